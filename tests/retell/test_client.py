"""The client's retry, ambiguity and secrecy rules, against scripted answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import httpx
import pytest

from campaigner.retell import (
    AmbiguousCreate,
    AuthenticationFailed,
    BadRequest,
    NotFound,
    RateLimited,
    RequestRetries,
    ResponseFormatError,
    RetellClient,
    ServerError,
    TransportError,
    UnprocessableEntity,
)
from campaigner.retell.models import MAX_ID_LENGTH

API_KEY = "key_test_secret_value_123"
CALL = {
    "call_id": "call_1",
    "call_type": "phone_call",
    "call_status": "registered",
    "agent_id": "agent_1",
    "agent_version": 1,
    "direction": "outbound",
    "from_number": "+14155550100",
    "to_number": "+12125550101",
    "metadata": {"campaign": "c"},
}

Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers requests in order from a list of responses or exceptions, recording each request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self._answers: Iterator[httpx.Response | Exception] = iter(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = next(self._answers)
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_client(script: Handler, sleeps: list[float] | None = None) -> RetellClient:
    recorded = sleeps if sleeps is not None else []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    return RetellClient(
        api_key=API_KEY,
        base_url="http://retell.test",
        transport=httpx.MockTransport(script),
        request_retries=RequestRetries(max_retries=3),
        sleep=fake_sleep,
    )


def error(status: int, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"status": "error", "message": message}, headers=headers or {}
    )


async def test_create_phone_call_sends_body_auth_and_idempotency_key() -> None:
    script = Script(httpx.Response(201, json=CALL))
    async with make_client(script) as client:
        call = await client.create_phone_call(
            from_number="+14155550100",
            to_number="+12125550101",
            idempotency_key="k1",
            metadata={"campaign": "c"},
            dynamic_variables={"first_name": "Ann"},
            override_agent_id="agent_b",
        )
    assert call.call_id == "call_1"
    assert call.call_status == "registered"
    (request,) = script.requests
    assert request.url.path == "/v2/create-phone-call"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    body = json.loads(request.content)
    assert body == {
        "from_number": "+14155550100",
        "to_number": "+12125550101",
        "idempotency_key": "k1",
        "metadata": {"campaign": "c"},
        "retell_llm_dynamic_variables": {"first_name": "Ann"},
        "override_agent_id": "agent_b",
    }


async def test_create_requires_an_idempotency_key() -> None:
    async with make_client(Script()) as client:
        with pytest.raises(ValueError, match="idempotency_key"):
            await client.create_phone_call(from_number="+1", to_number="+2", idempotency_key="")


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("peer closed connection"),
        httpx.ReadError("reset"),
        httpx.WriteTimeout("stuck"),
        httpx.WriteError("broken pipe"),
    ],
)
async def test_create_after_send_failure_is_ambiguous_and_not_retried(
    failure: Exception,
) -> None:
    script = Script(failure)
    async with make_client(script) as client:
        with pytest.raises(AmbiguousCreate) as caught:
            await client.create_phone_call(from_number="+1", to_number="+2", idempotency_key="k9")
    assert caught.value.idempotency_key == "k9"
    assert len(script.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 408, 409])
async def test_create_answered_5xx_is_ambiguous_and_not_retried(status: int) -> None:
    script = Script(error(status, "boom"))
    async with make_client(script) as client:
        with pytest.raises(AmbiguousCreate):
            await client.create_phone_call(from_number="+1", to_number="+2", idempotency_key="k")
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ConnectError("refused"),
        httpx.ConnectTimeout("no handshake"),
        httpx.PoolTimeout("every connection busy"),
    ],
)
async def test_create_that_never_left_is_retried(failure: Exception) -> None:
    script = Script(failure, httpx.Response(201, json=CALL))
    sleeps: list[float] = []
    async with make_client(script, sleeps) as client:
        call = await client.create_phone_call(from_number="+1", to_number="+2", idempotency_key="k")
    assert call.call_id == "call_1"
    assert len(script.requests) == 2
    assert len(sleeps) == 1


async def test_create_rate_limited_is_not_ambiguous_and_carries_retry_after() -> None:
    script = Script(error(429, "Account rate limited", {"retry-after-ms": "1500"}))
    async with make_client(script) as client:
        with pytest.raises(RateLimited) as caught:
            await client.create_phone_call(from_number="+1", to_number="+2", idempotency_key="k")
    assert caught.value.retry_after == 1.5
    assert len(script.requests) == 1


async def test_create_bad_request_names_the_message() -> None:
    script = Script(error(400, "to_number: field required"))
    async with make_client(script) as client:
        with pytest.raises(BadRequest, match="to_number: field required"):
            await client.create_phone_call(from_number="+1", to_number="", idempotency_key="k")


async def test_reads_retry_transient_failures_honouring_retry_after() -> None:
    script = Script(
        httpx.ReadTimeout("slow"),
        error(503, "busy"),
        error(429, "slow down", {"retry-after": "2"}),
        httpx.Response(200, json=CALL),
    )
    sleeps: list[float] = []
    async with make_client(script, sleeps) as client:
        call = await client.get_call("call_1")
    assert call.call_id == "call_1"
    assert len(script.requests) == 4
    assert sleeps[2] == 2.0
    assert 0.375 <= sleeps[0] <= 0.5


async def test_reads_give_up_after_the_retry_budget() -> None:
    script = Script(*(error(500, "down") for _ in range(4)))
    async with make_client(script) as client:
        with pytest.raises(ServerError):
            await client.get_concurrency()
    assert len(script.requests) == 4


async def test_reads_on_a_dead_network_raise_transport_error() -> None:
    script = Script(*(httpx.ConnectError("refused") for _ in range(4)))
    async with make_client(script) as client:
        with pytest.raises(TransportError, match="ConnectError"):
            await client.get_concurrency()


async def test_x_should_retry_false_stops_retries() -> None:
    script = Script(error(503, "no", {"x-should-retry": "false"}))
    async with make_client(script) as client:
        with pytest.raises(ServerError):
            await client.get_call("call_1")
    assert len(script.requests) == 1


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (401, "API key is missing or invalid.", AuthenticationFailed),
        (422, "Cannot find requested asset under given api key.", NotFound),
        (404, "The requested resource was not found.", NotFound),
        (422, "something else", UnprocessableEntity),
    ],
)
async def test_error_statuses_map_to_exception_types(
    status: int, message: str, expected: type[Exception]
) -> None:
    async with make_client(Script(error(status, message))) as client:
        with pytest.raises(expected, match=message.rstrip(".")):
            await client.get_call("nope")


async def test_unexpected_body_is_a_format_error() -> None:
    async with make_client(Script(httpx.Response(200, text="<html>"))) as client:
        with pytest.raises(ResponseFormatError):
            await client.get_call("call_1")
    async with make_client(Script(httpx.Response(200, json={"call_id": 1}))) as client:
        with pytest.raises(ResponseFormatError, match="Call"):
            await client.get_call("call_1")


async def test_unknown_fields_and_enum_values_are_tolerated() -> None:
    call = {**CALL, "call_status": "teleported", "brand_new_field": {"x": 1}}
    async with make_client(Script(httpx.Response(200, json=call))) as client:
        parsed = await client.get_call("call_1")
    assert parsed.call_status == "teleported"
    assert not parsed.is_terminal


async def test_iter_calls_follows_pagination_keys() -> None:
    page1 = {"items": [CALL], "has_more": True, "pagination_key": "p2"}
    page2 = {"items": [{**CALL, "call_id": "call_2"}], "has_more": False, "pagination_key": None}
    script = Script(httpx.Response(200, json=page1), httpx.Response(200, json=page2))
    async with make_client(script) as client:
        ids = [call.call_id async for call in client.iter_calls(filter_criteria={"a": 1})]
    assert ids == ["call_1", "call_2"]
    second = json.loads(script.requests[1].content)
    assert second["pagination_key"] == "p2"
    assert second["limit"] == 1000
    assert second["sort_order"] == "ascending"


async def test_list_calls_rejects_limits_retell_would_reject() -> None:
    async with make_client(Script()) as client:
        with pytest.raises(ValueError, match="limit"):
            await client.list_calls(limit=1001)
        with pytest.raises(ValueError, match="skip"):
            await client.list_calls(skip=10, pagination_key="x")


async def test_phone_number_path_keeps_plus_literal() -> None:
    number = {"phone_number": "+14155550100", "phone_number_type": "retell-twilio"}
    script = Script(httpx.Response(200, json=number))
    async with make_client(script) as client:
        await client.get_phone_number("+14155550100")
    assert script.requests[0].url.raw_path == b"/get-phone-number/+14155550100"


async def test_delete_accepts_an_empty_204() -> None:
    script = Script(httpx.Response(204))
    async with make_client(script) as client:
        await client.delete_call("call_1")
    assert script.requests[0].method == "DELETE"


async def test_stop_call_posts_to_the_sdk_path_and_a_204_means_stopped() -> None:
    script = Script(httpx.Response(204))
    async with make_client(script) as client:
        assert await client.stop_call("call_1") is True
    (request,) = script.requests
    assert (request.method, request.url.path) == ("POST", "/v2/stop-call/call_1")


async def test_a_refused_stop_of_a_call_still_live_is_an_error_not_an_ended_call() -> None:
    script = Script(error(400, "Invalid request format"), httpx.Response(200, json=CALL))
    async with make_client(script) as client:
        with pytest.raises(BadRequest):
            await client.stop_call("call_1")
    assert script.requests[1].url.path == "/v2/get-call/call_1"


async def test_a_stop_lost_on_the_way_back_is_sent_again_and_finds_the_call_ended() -> None:
    ended = {**CALL, "call_status": "ended", "disconnection_reason": "manual_stopped"}
    script = Script(
        httpx.ReadTimeout("no answer"),
        error(400, "Call already ended"),
        httpx.Response(200, json=ended),
    )
    async with make_client(script) as client:
        assert await client.stop_call("call_1") is False
    assert [r.url.path for r in script.requests] == [
        "/v2/stop-call/call_1",
        "/v2/stop-call/call_1",
        "/v2/get-call/call_1",
    ]


async def test_api_key_never_appears_in_repr_errors_or_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    script = Script(
        error(401, "API key is missing or invalid."),
        httpx.ReadTimeout("slow"),
        *(httpx.ConnectError("refused") for _ in range(4)),
    )
    texts: list[str] = []
    async with make_client(script) as client:
        texts.append(repr(client))
        for action in (
            client.get_call("x"),
            client.create_phone_call(from_number="+1", to_number="+2", idempotency_key="k"),
            client.get_concurrency(),
        ):
            try:
                await action
            except Exception as exc:
                texts.extend([str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)])
    texts.append(caplog.text)
    assert len(texts) > 5
    assert not [text for text in texts if API_KEY in text]


def test_empty_api_key_is_refused() -> None:
    with pytest.raises(ValueError, match="API key"):
        RetellClient(api_key="", base_url="http://retell.test")


MALFORMED_CALLS = {
    "a timestamp of 10^20 ms": {**CALL, "call_id": "call_far", "end_timestamp": 10**20},
    "a negative duration": {**CALL, "call_id": "call_neg", "duration_ms": -5},
    "a negative start": {**CALL, "call_id": "call_before", "start_timestamp": -1},
    "a 10 kB call_id": {**CALL, "call_id": "c" * 10_000},
    "an agent version past INTEGER": {**CALL, "call_id": "call_v", "agent_version": 2**31},
    "no call_id": {key: value for key, value in CALL.items() if key != "call_id"},
    "not an object": ["call_list"],
}


@pytest.mark.parametrize("malformed", list(MALFORMED_CALLS.values()), ids=list(MALFORMED_CALLS))
async def test_a_malformed_call_is_left_out_of_its_page_alone(
    malformed: object, caplog: pytest.LogCaptureFixture
) -> None:
    secret_number = "+12125550199"
    if isinstance(malformed, dict):
        malformed = {**malformed, "to_number": secret_number}
    page = {"items": [CALL, malformed, {**CALL, "call_id": "call_2"}], "has_more": False}
    async with make_client(Script(httpx.Response(200, json=page))) as client:
        listed = await client.list_calls()
    assert [call.call_id for call in listed.items] == ["call_1", "call_2"]
    assert "left out, not a Retell call" in caplog.text
    # The log says which fields are wrong, never what they hold.
    assert secret_number not in caplog.text
    assert "c" * (MAX_ID_LENGTH + 1) not in caplog.text


async def test_the_log_of_a_left_out_call_names_it_and_its_fields_at_fault(
    caplog: pytest.LogCaptureFixture,
) -> None:
    items = [MALFORMED_CALLS["a timestamp of 10^20 ms"], MALFORMED_CALLS["a 10 kB call_id"]]
    page = {"items": items, "has_more": False}
    async with make_client(Script(httpx.Response(200, json=page))) as client:
        assert (await client.list_calls()).items == []
    assert "call call_far left out" in caplog.text
    assert "end_timestamp: less_than_equal" in caplog.text
    assert "call (no readable call_id) left out" in caplog.text
    assert "call_id: string_too_long" in caplog.text


async def test_a_page_that_is_not_a_page_still_fails_whole() -> None:
    async with make_client(Script(httpx.Response(200, json={"items": "none"}))) as client:
        with pytest.raises(ResponseFormatError, match="page of items"):
            await client.list_calls()


async def test_metadata_and_dynamic_variables_take_any_json_values() -> None:
    metadata = {"campaign": "c", "attempt": "7", "score": 4.5, "tags": ["a"], "vip": True}
    variables = {"first_name": "Ann", "age": 41, "address": {"city": "Oslo"}, "none": None}
    call = {
        **CALL,
        "metadata": metadata,
        "retell_llm_dynamic_variables": variables,
        "collected_dynamic_variables": {"last_node_name": "end", "turns": 12},
    }
    async with make_client(Script(httpx.Response(200, json=call))) as client:
        parsed = await client.get_call("call_1")
    assert parsed.metadata == metadata
    assert parsed.retell_llm_dynamic_variables == variables
    assert parsed.collected_dynamic_variables == {"last_node_name": "end", "turns": 12}
    assert (parsed.metadata_value("campaign"), parsed.metadata_value("tags")) == ("c", ["a"])


@pytest.mark.parametrize("metadata", [None, "campaign=c", ["campaign", "c"], 7])
async def test_metadata_that_is_not_an_object_has_no_keys(metadata: object) -> None:
    call = {**CALL, "metadata": metadata}
    async with make_client(Script(httpx.Response(200, json=call))) as client:
        parsed = await client.get_call("call_1")
    assert parsed.metadata == metadata
    assert parsed.metadata_value("campaign") is None


async def test_api_key_info_names_the_workspace_of_the_key() -> None:
    script = Script(httpx.Response(200, json={"org_id": "org_1", "org_name": "Acme"}))
    async with make_client(script) as client:
        info = await client.get_api_key_info()
    assert (info.org_name, info.api_key_name) == ("Acme", None)
    assert script.requests[0].url.path == "/get-api-key-info"


def test_the_key_fingerprint_tells_keys_apart_without_holding_one() -> None:
    first = RetellClient(api_key=API_KEY, base_url="http://retell.test")
    second = RetellClient(api_key=API_KEY + "x", base_url="http://retell.test")
    assert first.key_fingerprint != second.key_fingerprint
    assert API_KEY not in first.key_fingerprint
    assert (
        first.key_fingerprint == RetellClient(api_key=API_KEY, base_url="http://x").key_fingerprint
    )
