"""list-calls (v3): the filter grammar, sorting and paging."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from retell_sim import SimulatorHandle
from tests.retell_sim.helpers import create_call, force


def _list(http: httpx.Client, **body: Any) -> dict[str, Any]:
    response = http.post("/v3/list-calls", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _ids(http: httpx.Client, criteria: dict[str, Any], **body: Any) -> list[str]:
    return [item["call_id"] for item in _list(http, filter_criteria=criteria, **body)["items"]]


@pytest.fixture
def calls(sim: SimulatorHandle, http: httpx.Client) -> dict[str, dict[str, Any]]:
    """Four finished calls with known outcomes and one still registered."""
    plan = {
        "won": ("+14155554001", "agent_hangup", {"call_successful": True, "duration_ms": 90_000}),
        "lost": ("+14155554002", "user_hangup", {"call_successful": False, "duration_ms": 30_000}),
        "busy": ("+14155554003", "dial_busy", {}),
        "machine": ("+16505554004", "voicemail_reached", {"duration_ms": 20_000}),
    }
    made: dict[str, dict[str, Any]] = {}
    for index, (name, (number, reason, extra)) in enumerate(plan.items()):
        force(http, number, reason, **extra)
        made[name] = create_call(
            http,
            number,
            metadata={"campaign": "c1", "contact": index, "vip": index % 2 == 0, "name": name},
            retell_llm_dynamic_variables={"first_name": name.title()},
        )
        sim.advance(30)  # distinct start times, in creation order
    sim.advance(600)
    made["pending"] = create_call(http, "+14155554005", metadata={"campaign": "c2"})
    return made


def test_items_omit_transcripts_and_batch_id(
    http: httpx.Client, calls: dict[str, dict[str, Any]]
) -> None:
    items = _list(http, limit=1000)["items"]
    assert len(items) == 5
    for item in items:
        assert not {
            "transcript",
            "transcript_object",
            "transcript_with_tool_calls",
            "batch_call_id",
        } & set(item)


def test_default_order_is_descending_with_unstarted_calls_first(
    http: httpx.Client, calls: dict[str, dict[str, Any]]
) -> None:
    order = [item["call_id"] for item in _list(http)["items"]]
    expected = ["pending", "machine", "busy", "lost", "won"]
    assert order == [calls[name]["call_id"] for name in expected]
    ascending = [item["call_id"] for item in _list(http, sort_order="ascending")["items"]]
    assert ascending == order[::-1]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        (
            {"metadata": [{"key": "campaign", "type": "string", "op": "eq", "value": "c1"}]},
            {"won", "lost", "busy", "machine"},
        ),
        (
            {"metadata": [{"key": "contact", "type": "number", "op": "ge", "value": 2}]},
            {"busy", "machine"},
        ),
        (
            {"metadata": [{"key": "vip", "type": "boolean", "op": "eq", "value": True}]},
            {"won", "busy"},
        ),
        (
            {"metadata": [{"key": "name", "type": "enum", "op": "in", "value": ["won", "busy"]}]},
            {"won", "busy"},
        ),
        (
            {"metadata": [{"key": "contact", "type": "range", "op": "bt", "value": [1, 2]}]},
            {"lost", "busy"},
        ),
        ({"metadata": [{"key": "name", "type": "string", "op": "sw", "value": "lo"}]}, {"lost"}),
        ({"metadata": [{"key": "contact", "type": "present", "op": "np"}]}, {"pending"}),
        ({"call_status": {"type": "enum", "op": "in", "value": ["not_connected"]}}, {"busy"}),
        (
            {"call_status": {"type": "enum", "op": "in", "value": ["ended", "error"]}},
            {"won", "lost", "machine"},
        ),
        (
            {"disconnection_reason": {"type": "enum", "op": "in", "value": ["voicemail_reached"]}},
            {"machine"},
        ),
        ({"call_successful": {"type": "boolean", "op": "eq", "value": True}}, {"won"}),
        ({"in_voicemail": {"type": "boolean", "op": "eq", "value": True}}, {"machine"}),
        ({"duration_ms": {"type": "number", "op": "gt", "value": 25_000}}, {"won", "lost"}),
        ({"duration_ms": {"type": "range", "op": "bt", "value": [0, 25_000]}}, {"busy", "machine"}),
        ({"combined_cost": {"type": "number", "op": "gt", "value": 0}}, {"won", "lost", "machine"}),
        ({"to_number": {"type": "string", "op": "sw", "value": "+1650"}}, {"machine"}),
        (
            {"from_number": {"type": "string", "op": "ew", "value": "0100"}},
            {"won", "lost", "busy", "machine", "pending"},
        ),
        (
            {
                "dynamic_variables": [
                    {"key": "first_name", "type": "string", "op": "co", "value": "o"}
                ]
            },
            {"won", "lost"},
        ),
        (
            {"custom_analysis_data": [{"key": "interest_level", "type": "present", "op": "pr"}]},
            {"won", "lost"},
        ),
        (
            {"agent": [{"agent_id": "agent_campaigner_demo", "version": [0]}, {"agent_id": "x"}]},
            {"won", "lost", "busy", "machine", "pending"},
        ),
        ({"agent": [{"agent_id": "agent_campaigner_demo_b"}]}, set()),
        ({"direction": {"type": "enum", "op": "in", "value": ["inbound"]}}, set()),
        (
            {"call_type": {"type": "enum", "op": "in", "value": ["phone_call"]}},
            {"won", "lost", "busy", "machine", "pending"},
        ),
        (
            {"user_sentiment": {"type": "enum", "op": "in", "value": ["Unknown"]}},
            {"busy", "machine"},
        ),
    ],
)
def test_filters(
    http: httpx.Client,
    calls: dict[str, dict[str, Any]],
    criteria: dict[str, Any],
    expected: set[str],
) -> None:
    wanted = {calls[name]["call_id"] for name in expected}
    assert set(_ids(http, criteria, limit=1000)) == wanted


def test_call_id_and_time_filters(http: httpx.Client, calls: dict[str, dict[str, Any]]) -> None:
    won, lost = calls["won"], calls["lost"]
    assert _ids(http, {"call_id": {"type": "string", "op": "eq", "value": won["call_id"]}}) == [
        won["call_id"]
    ]
    both = {"call_id": {"type": "enum", "op": "in", "value": [won["call_id"], lost["call_id"]]}}
    assert set(_ids(http, both)) == {won["call_id"], lost["call_id"]}
    started = http.get(f"/v2/get-call/{lost['call_id']}").json()["start_timestamp"]
    after = _ids(
        http,
        {"start_timestamp": {"type": "number", "op": "ge", "value": started}},
        sort_order="ascending",
    )
    assert after[0] == lost["call_id"]
    assert won["call_id"] not in after


def test_paging_with_key_skip_and_total(
    http: httpx.Client, calls: dict[str, dict[str, Any]]
) -> None:
    first = _list(http, limit=2, include_total=True)
    assert first["total"] == 5
    assert first["has_more"] is True
    second = _list(http, limit=2, pagination_key=first["pagination_key"])
    third = _list(http, limit=2, pagination_key=second["pagination_key"])
    assert third["has_more"] is False
    assert third["pagination_key"] is None
    assert "total" not in second
    paged = [item["call_id"] for page in (first, second, third) for item in page["items"]]
    assert paged == [item["call_id"] for item in _list(http)["items"]]
    skipped = _list(http, limit=2, skip=2)
    assert [item["call_id"] for item in skipped["items"]] == paged[2:4]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"limit": 1001}, "limit: "),
        ({"limit": 0}, "limit: "),
        ({"skip": 1, "pagination_key": "abc"}, "skip and pagination_key"),
        ({"pagination_key": "garbage"}, "pagination_key: "),
        (
            {"filter_criteria": {"colour": {"type": "string", "op": "eq", "value": "x"}}},
            "filter_criteria.colour: unknown filter key",
        ),
        (
            {
                "filter_criteria": {
                    "call_status": {"type": "enum", "op": "in", "value": ["registered"]}
                }
            },
            "filter_criteria.call_status: value contains ['registered']",
        ),
        (
            {"filter_criteria": {"duration_ms": {"type": "string", "op": "eq", "value": "1"}}},
            "filter_criteria.duration_ms: type must be one of",
        ),
        (
            {"filter_criteria": {"to_number": {"type": "string", "op": "gt", "value": "1"}}},
            "filter_criteria.to_number: op must be one of",
        ),
        (
            {"filter_criteria": {"metadata": [{"type": "string", "op": "eq", "value": "x"}]}},
            "filter_criteria.metadata[0]: must be an object with a string key",
        ),
    ],
)
def test_bad_list_requests_are_400(http: httpx.Client, body: dict[str, Any], message: str) -> None:
    response = http.post("/v3/list-calls", json=body)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)
