"""The async Retell client: the only code in campaigner that speaks HTTP to Retell.

Reads (get, list, get-concurrency) and stops of calls are retried on timeouts, dropped connections,
408/409/429 and 5xx with jittered backoff that honours `retry-after-ms` / `retry-after`. Creates
are never retried once they may have reached Retell: `create_phone_call` always carries an
`idempotency_key`, and a create whose outcome is unknown raises `AmbiguousCreate` so that the
caller reconciles first.

Usage:

    async with RetellClient(api_key=key, base_url="http://127.0.0.1:8765") as retell:
        call = await retell.create_phone_call(
            from_number="+14155550100", to_number="+12125550123", idempotency_key="cmp-1-c-7-a-1"
        )
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError

from campaigner import __version__
from campaigner.retell.errors import (
    AmbiguousCreate,
    BadRequest,
    ResponseFormatError,
    RetellAPIError,
    TransportError,
    api_error_for_status,
)
from campaigner.retell.models import (
    Agent,
    AgentSummary,
    ApiKeyInfo,
    BatchCall,
    BatchCallTask,
    Call,
    CallPage,
    CallTimeWindow,
    Concurrency,
    PhoneNumber,
    RetellLLM,
    RetellModel,
    Voice,
    WebCall,
    loggable_call_id,
    validation_problems,
)
from campaigner.retell.retrying import RequestRetries, retry_after_seconds
from campaigner.retell.server_clock import ServerClock
from campaigner.settings import Settings

__all__ = ["RetellClient"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=RetellModel)
Sleep = Callable[[float], Awaitable[None]]
JSONBody = Mapping[str, Any]

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# Retell's SDK gives these endpoints longer read timeouts: a slow answer is not a failure.
CREATE_CALL_TIMEOUT = httpx.Timeout(120.0, connect=5.0)
LIST_CALLS_TIMEOUT = httpx.Timeout(300.0, connect=5.0)
MAX_LIST_LIMIT = 1000
MAX_KEEPALIVE_CONNECTIONS = 20
_ERROR_TEXT_LIMIT = 300

# httpx raises these only before any byte of the request was written: safe to send again, even a
# create. Every other `httpx.TransportError` (a read or write timeout, a dropped or garbled
# answer) may come after Retell received the request.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _path_segment(value: str) -> str:
    """Percent-encode one path segment the way Retell's SDK does (RFC 3986 pchar is safe)."""
    return quote(value, safe="!$&'()*+,;=:@-._~")


def _without_none(body: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


class RetellClient:
    """Async client for the Retell endpoints campaigner uses."""

    def __init__(
        self,
        *,
        api_key: SecretStr | str,
        base_url: str,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        request_retries: RequestRetries | None = None,
        max_connections: int = 100,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Requests go through httpx's own transport, which also honours the environment's
        proxies (`HTTPS_PROXY`, `NO_PROXY`, ...) and `SSL_CERT_FILE`. A `transport` given (tests,
        fault injection) is used as it is."""
        secret = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        if not secret.get_secret_value():
            raise ValueError("a Retell API key is required")
        self.base_url = base_url.rstrip("/")
        # Tells keys apart (a preflight's pass holds for one key) without keeping or showing one.
        self.key_fingerprint = hashlib.sha256(secret.get_secret_value().encode()).hexdigest()
        self._retry = request_retries or RequestRetries()
        self._sleep = sleep
        self.server_clock = ServerClock()
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            transport=transport,
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
            ),
            headers={
                "Authorization": f"Bearer {secret.get_secret_value()}",
                "Accept": "application/json",
                "User-Agent": f"campaigner/{__version__}",
            },
        )

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> RetellClient:
        """A client for the endpoint and key the settings resolve to (the simulator by default)."""
        return cls(
            api_key=settings.resolved_api_key(),
            base_url=settings.resolved_base_url(),
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"RetellClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # -- calls ---------------------------------------------------------------------------------

    async def create_phone_call(
        self,
        *,
        from_number: str,
        to_number: str,
        idempotency_key: str,
        override_agent_id: str | None = None,
        override_agent_version: int | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        dynamic_variables: Mapping[str, str] | None = None,
        agent_override: Mapping[str, Any] | None = None,
        honor_internal_dnc: bool | None = None,
        custom_sip_headers: Mapping[str, str] | None = None,
    ) -> Call:
        """Place one outbound call (`POST /v2/create-phone-call`).

        Raises `AmbiguousCreate` when the call may exist although no answer arrived; replaying
        the same `idempotency_key` within Retell's one-hour window returns that call, not a new one.
        """
        if not idempotency_key:
            raise ValueError("create_phone_call needs an idempotency_key")
        body = _without_none(
            {
                "from_number": from_number,
                "to_number": to_number,
                "idempotency_key": idempotency_key,
                "override_agent_id": override_agent_id,
                "override_agent_version": override_agent_version,
                "metadata": dict(metadata) if metadata is not None else None,
                "retell_llm_dynamic_variables": (
                    dict(dynamic_variables) if dynamic_variables is not None else None
                ),
                "agent_override": dict(agent_override) if agent_override is not None else None,
                "honor_internal_dnc": honor_internal_dnc,
                "custom_sip_headers": (
                    dict(custom_sip_headers) if custom_sip_headers is not None else None
                ),
            }
        )
        data = await self._create(
            "/v2/create-phone-call",
            body,
            timeout=CREATE_CALL_TIMEOUT,
            idempotency_key=idempotency_key,
        )
        return self._parse(Call, data, "/v2/create-phone-call")

    async def get_call(self, call_id: str) -> Call:
        """The full call object, transcripts included (`GET /v2/get-call/{call_id}`)."""
        path = f"/v2/get-call/{_path_segment(call_id)}"
        return self._parse(Call, await self._read("GET", path), path)

    async def list_calls(
        self,
        *,
        filter_criteria: Mapping[str, Any] | None = None,
        sort_order: str = "descending",
        limit: int = MAX_LIST_LIMIT,
        pagination_key: str | None = None,
        skip: int | None = None,
        include_total: bool = False,
    ) -> CallPage:
        """One page of `POST /v3/list-calls` (items come without transcripts)."""
        if not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be between 1 and {MAX_LIST_LIMIT}, not {limit}")
        if skip is not None and pagination_key is not None:
            raise ValueError("Retell rejects skip together with pagination_key")
        body = _without_none(
            {
                "filter_criteria": dict(filter_criteria) if filter_criteria else None,
                "sort_order": sort_order,
                "limit": limit,
                "pagination_key": pagination_key,
                "skip": skip,
                "include_total": include_total or None,
            }
        )
        path = "/v3/list-calls"
        page = self._expect_mapping(
            await self._read("POST", path, json=body, timeout=LIST_CALLS_TIMEOUT), path
        )
        calls = self._parse_calls(page["items"], path)
        return self._parse(CallPage, {**page, "items": calls}, path)

    async def iter_calls(
        self,
        *,
        filter_criteria: Mapping[str, Any] | None = None,
        sort_order: str = "ascending",
        page_size: int = MAX_LIST_LIMIT,
    ) -> AsyncIterator[Call]:
        """Every call matching the filter, following `pagination_key` page by page."""
        pagination_key: str | None = None
        while True:
            page = await self.list_calls(
                filter_criteria=filter_criteria,
                sort_order=sort_order,
                limit=page_size,
                pagination_key=pagination_key,
            )
            for call in page.items:
                yield call
            if not page.has_more or not page.pagination_key:
                return
            pagination_key = page.pagination_key

    async def delete_call(self, call_id: str) -> None:
        """Delete a call's record (`DELETE /v2/delete-call/{call_id}`)."""
        await self._read("DELETE", f"/v2/delete-call/{_path_segment(call_id)}")

    async def stop_call(self, call_id: str) -> bool:
        """End a live call now (`POST /v2/stop-call/{call_id}`): Retell ends it `manual_stopped`.

        True when this request stopped the call, False when it had already ended. Retell refuses
        to stop an ended call with a 400; whoever stops a call wants it over, and a call that
        ended while the stop was on its way is the ordinary race, so that is an answer here, not
        an exception every caller would have to catch. A 400 alone does not say why, so the call
        is read back: a 400 for a call that is still live raises `BadRequest`. Retried like a
        read: a stop sent twice ends the call once (the second answers as an ended call).
        """
        path = f"/v2/stop-call/{_path_segment(call_id)}"
        try:
            await self._read("POST", path)
        except BadRequest:
            if not (await self.get_call(call_id)).is_terminal:
                raise
            return False
        return True

    async def create_web_call(
        self,
        *,
        agent_id: str,
        agent_version: int | str | None = None,
        metadata: Mapping[str, Any] | None = None,
        dynamic_variables: Mapping[str, str] | None = None,
    ) -> WebCall:
        """Start a browser call (`POST /v3/create-web-call`); not retried (it creates a call)."""
        body = _without_none(
            {
                "agent_id": agent_id,
                "agent_version": agent_version,
                "metadata": dict(metadata) if metadata is not None else None,
                "retell_llm_dynamic_variables": (
                    dict(dynamic_variables) if dynamic_variables is not None else None
                ),
            }
        )
        data = await self._create("/v3/create-web-call", body, timeout=CREATE_CALL_TIMEOUT)
        return self._parse(WebCall, data, "/v3/create-web-call")

    # -- batches -------------------------------------------------------------------------------

    async def create_batch_call(
        self,
        *,
        from_number: str,
        tasks: Sequence[BatchCallTask],
        name: str | None = None,
        trigger_timestamp: int | None = None,
        reserved_concurrency: int | None = None,
        call_time_window: CallTimeWindow | None = None,
    ) -> BatchCall:
        """Submit a batch call (`POST /create-batch-call`). Never retried: batches have no
        idempotency key, so an unknown outcome raises `AmbiguousCreate`; find the batch's calls by
        their task metadata before submitting again."""
        body = _without_none(
            {
                "from_number": from_number,
                "tasks": [task.model_dump(exclude_none=True) for task in tasks],
                "name": name,
                "trigger_timestamp": trigger_timestamp,
                "reserved_concurrency": reserved_concurrency,
                "call_time_window": (
                    call_time_window.model_dump(exclude_none=True) if call_time_window else None
                ),
            }
        )
        data = await self._create("/create-batch-call", body, timeout=LIST_CALLS_TIMEOUT)
        return self._parse(BatchCall, data, "/create-batch-call")

    # -- workspace -----------------------------------------------------------------------------

    async def get_api_key_info(self) -> ApiKeyInfo:
        """The API key's name and its organisation (`GET /get-api-key-info`)."""
        path = "/get-api-key-info"
        return self._parse(ApiKeyInfo, await self._read("GET", path), path)

    async def get_concurrency(self) -> Concurrency:
        """The workspace's concurrency limits and calls in progress (`GET /get-concurrency`)."""
        return self._parse(Concurrency, await self._read("GET", "/get-concurrency"), "concurrency")

    async def create_agent(self, **fields: Any) -> Agent:
        """Create an agent (`POST /create-agent`); `response_engine` and `voice_id` are required."""
        data = await self._create("/create-agent", _without_none(fields))
        return self._parse(Agent, data, "/create-agent")

    async def get_agent(self, agent_id: str, *, version: int | str | None = None) -> Agent:
        path = f"/get-agent/{_path_segment(agent_id)}"
        params = {"version": str(version)} if version is not None else None
        return self._parse(Agent, await self._read("GET", path, params=params), path)

    async def list_agents(self, *, limit: int = 1000) -> list[AgentSummary]:
        """Every agent, one entry per agent (not per version), from `POST /v2/list-agents`."""
        agents: list[AgentSummary] = []
        pagination_key: str | None = None
        while True:
            params = _without_none({"limit": str(limit), "pagination_key": pagination_key})
            data = await self._read("POST", "/v2/list-agents", params=params, json={})
            page = self._expect_mapping(data, "/v2/list-agents")
            agents.extend(
                self._parse(AgentSummary, item, "/v2/list-agents") for item in page["items"]
            )
            pagination_key = page.get("pagination_key")
            if not page.get("has_more") or not pagination_key:
                return agents

    async def update_agent(self, agent_id: str, **fields: Any) -> Agent:
        path = f"/update-agent/{_path_segment(agent_id)}"
        return self._parse(Agent, await self._read("PATCH", path, json=fields), path)

    async def delete_agent(self, agent_id: str) -> None:
        await self._read("DELETE", f"/delete-agent/{_path_segment(agent_id)}")

    async def create_retell_llm(self, **fields: Any) -> RetellLLM:
        data = await self._create("/create-retell-llm", _without_none(fields))
        return self._parse(RetellLLM, data, "/create-retell-llm")

    async def get_retell_llm(self, llm_id: str) -> RetellLLM:
        path = f"/get-retell-llm/{_path_segment(llm_id)}"
        return self._parse(RetellLLM, await self._read("GET", path), path)

    async def list_retell_llms(self) -> list[RetellLLM]:
        return await self._list_paged(RetellLLM, "/v2/list-retell-llms")

    async def delete_retell_llm(self, llm_id: str) -> None:
        await self._read("DELETE", f"/delete-retell-llm/{_path_segment(llm_id)}")

    async def create_phone_number(self, **fields: Any) -> PhoneNumber:
        data = await self._create("/create-phone-number", _without_none(fields))
        return self._parse(PhoneNumber, data, "/create-phone-number")

    async def get_phone_number(self, phone_number: str) -> PhoneNumber:
        path = f"/get-phone-number/{_path_segment(phone_number)}"
        return self._parse(PhoneNumber, await self._read("GET", path), path)

    async def list_phone_numbers(self) -> list[PhoneNumber]:
        return await self._list_paged(PhoneNumber, "/v2/list-phone-numbers")

    async def delete_phone_number(self, phone_number: str) -> None:
        await self._read("DELETE", f"/delete-phone-number/{_path_segment(phone_number)}")

    async def get_voice(self, voice_id: str) -> Voice:
        path = f"/get-voice/{_path_segment(voice_id)}"
        return self._parse(Voice, await self._read("GET", path), path)

    # -- plumbing ------------------------------------------------------------------------------

    async def _list_paged(self, model: type[M], path: str) -> list[M]:
        """Follow `{items, has_more, pagination_key}` pages of a GET list endpoint."""
        items: list[M] = []
        pagination_key: str | None = None
        while True:
            params = _without_none({"limit": "1000", "pagination_key": pagination_key})
            page = self._expect_mapping(await self._read("GET", path, params=params), path)
            items.extend(self._parse(model, item, path) for item in page["items"])
            pagination_key = page.get("pagination_key")
            if not page.get("has_more") or not pagination_key:
                return items

    async def _read(
        self,
        method: str,
        path: str,
        *,
        json: JSONBody | None = None,
        params: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> Any:
        """Send an idempotent request, retrying transient failures within the policy's budget."""
        for retry_index in range(self._retry.max_retries + 1):
            last_try = retry_index == self._retry.max_retries
            try:
                response = await self._send(method, path, json=json, params=params, timeout=timeout)
            except httpx.TransportError as exc:
                if last_try:
                    raise TransportError(f"{method} {path} failed: {type(exc).__name__}") from None
                await self._sleep(self._retry.delay(retry_index))
                continue
            if response.is_success:
                return self._decode(response, path)
            if last_try or not self._retry.should_retry_status(
                response.status_code, response.headers
            ):
                raise self._api_error(response, path)
            await self._sleep(self._retry.delay(retry_index, response.headers))
        raise AssertionError("unreachable: the loop returns or raises on its last try")

    async def _create(
        self,
        path: str,
        body: JSONBody,
        *,
        timeout: httpx.Timeout | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """Send a request that creates something: retried only while it cannot have been sent."""
        for retry_index in range(self._retry.max_retries + 1):
            try:
                response = await self._send("POST", path, json=body, timeout=timeout)
            except _NOT_SENT as exc:
                if retry_index == self._retry.max_retries:
                    raise TransportError(f"POST {path} failed: {type(exc).__name__}") from None
                await self._sleep(self._retry.delay(retry_index))
                continue
            except httpx.TransportError as exc:
                raise AmbiguousCreate(
                    f"POST {path}: no answer ({type(exc).__name__}); it may have been created",
                    idempotency_key=idempotency_key,
                ) from None
            if response.is_success:
                return self._decode(response, path)
            error = self._api_error(response, path)
            if response.status_code >= 500 or response.status_code in {408, 409}:
                raise AmbiguousCreate(
                    f"POST {path}: {error}; it may have been created",
                    idempotency_key=idempotency_key,
                ) from None
            raise error
        raise AssertionError("unreachable: the loop returns or raises on its last try")

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json: JSONBody | None = None,
        params: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        response = await self._http.request(
            method,
            path,
            json=json,
            params=params,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        self.server_clock.observe(response.headers.get("date"))
        return response

    @staticmethod
    def _decode(response: httpx.Response, path: str) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            status = response.status_code
            raise ResponseFormatError(f"{path} answered {status} without JSON") from None

    @staticmethod
    def _api_error(response: httpx.Response, path: str) -> RetellAPIError:
        message = response.text[:_ERROR_TEXT_LIMIT] or response.reason_phrase
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            message = body["message"]
        return api_error_for_status(
            response.status_code,
            message,
            path=path,
            retry_after=retry_after_seconds(response.headers),
        )

    @staticmethod
    def _expect_mapping(data: Any, path: str) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ResponseFormatError(f"{path} did not answer with a page of items")
        return data

    @staticmethod
    def _parse_calls(items: list[Any], path: str) -> list[Call]:
        """The calls of a page, each on its own: a malformed one is logged and left out, so the
        others still arrive (a followed call left out is asked for again by get-call once it is
        overdue). The log names its id and the fields at fault, never their values, which may
        be a person's data."""
        calls = []
        for item in items:
            try:
                calls.append(Call.model_validate(item))
            except ValidationError as exc:
                log.warning(
                    "%s: call %s left out, not a Retell call (%s)",
                    path,
                    loggable_call_id(item),
                    validation_problems(exc),
                )
        return calls

    @staticmethod
    def _parse(model: type[M], data: Any, path: str) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ResponseFormatError(
                f"{path}: unexpected {model.__name__} shape ({exc.error_count()} problems)"
            ) from None
