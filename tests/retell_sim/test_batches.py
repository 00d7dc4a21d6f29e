"""Batch calls: validation, calling windows across zones, trigger time, reserved concurrency."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from retell_sim import SimulatorHandle
from retell_sim.batches import BatchCallWindow, TimeWindowBody
from tests.retell_sim.conftest import MakeSimulator
from tests.retell_sim.helpers import (
    INSTANT,
    api_client,
    batch_calls,
    create_batch,
    create_call,
    force,
)

MONDAY_NOON_UTC = int(datetime(2026, 1, 5, 12, 0, tzinfo=UTC).timestamp() * 1000)
HOUR_MS = 3_600_000
NINE_TO_FIVE = [{"start": 540, "end": 1020}]


@pytest.fixture
def monday(make_simulator: MakeSimulator) -> SimulatorHandle:
    """Manual clock at Monday 2026-01-05 12:00 UTC; calls answer at once and last a minute."""
    return make_simulator(
        start_ms=MONDAY_NOON_UTC, cps=1000, concurrency_limit=100, outcomes=INSTANT
    )


def test_windows_open_in_each_zones_local_time(monday: SimulatorHandle) -> None:
    with api_client(monday) as http:
        zones = {
            "Europe/Berlin": ({"timezone": "Europe/Berlin"}, 0),  # 13:00 local: open now
            "America/New_York": ({"timezone": "America/New_York"}, 2 * HOUR_MS),  # 07:00 local
            "Asia/Tokyo": ({"timezone": "Asia/Tokyo"}, 12 * HOUR_MS),  # 21:00 local
            "New York, Wednesdays": (
                {"timezone": "America/New_York", "day": ["Wednesday"]},
                50 * HOUR_MS,
            ),
        }
        batches = {
            name: create_batch(http, 2, call_time_window={"windows": NINE_TO_FIVE, **window})
            for name, (window, _) in zones.items()
        }
        for hours in (0, 1, 2, 11, 12, 49, 50):
            target = MONDAY_NOON_UTC + hours * HOUR_MS
            now = http.get("/_sim/clock").json()["virtual_now_ms"]
            monday.advance((target - now) / 1000)
            for name, (_, opens_after_ms) in zones.items():
                expected = 2 if hours * HOUR_MS >= opens_after_ms else 0
                placed = batch_calls(http, batches[name]["batch_call_id"])
                assert len(placed) == expected, f"{name} at +{hours} h"
        first_tokyo = batch_calls(http, batches["Asia/Tokyo"]["batch_call_id"])[0]
        assert first_tokyo["start_timestamp"] == MONDAY_NOON_UTC + 12 * HOUR_MS


def test_tasks_left_when_the_window_closes_wait_for_the_next(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(start_ms=MONDAY_NOON_UTC, cps=0.02, outcomes=INSTANT)  # one dial per 50 s
    with api_client(sim) as http:
        window = {
            "windows": [{"start": 780, "end": 781}],
            "timezone": "Europe/Berlin",
        }  # 13:00-13:01
        batch = create_batch(http, 3, call_time_window=window)
        sim.advance(300)
        assert len(batch_calls(http, batch["batch_call_id"])) == 2
        status = http.get(f"/_sim/batches/{batch['batch_call_id']}").json()
        assert status["state"] == "waiting_for_window"
        assert status["pending_task_count"] == 1
        sim.advance(24 * 3600)
        placed = batch_calls(http, batch["batch_call_id"])
    assert len(placed) == 3
    assert placed[2]["start_timestamp"] == MONDAY_NOON_UTC + 24 * HOUR_MS


def test_trigger_timestamp_delays_the_start(monday: SimulatorHandle) -> None:
    with api_client(monday) as http:
        trigger = MONDAY_NOON_UTC + HOUR_MS
        batch = create_batch(http, 2, trigger_timestamp=trigger, name="later")
        assert batch["scheduled_timestamp"] == trigger
        assert batch["name"] == "later"
        monday.advance(3599)
        assert batch_calls(http, batch["batch_call_id"]) == []
        monday.advance(1)
        assert len(batch_calls(http, batch["batch_call_id"])) == 2


def test_reserved_concurrency_is_left_free(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(cps=1000, concurrency_limit=5, outcomes=INSTANT)
    with api_client(sim) as http:
        batch = create_batch(http, 6, reserved_concurrency=3)
        for _ in range(3):
            assert http.get("/get-concurrency").json()["current_concurrency"] == 2
            assert (
                http.post(
                    "/v2/create-phone-call",
                    json={"from_number": "+14155550100", "to_number": "+14155558999"},
                ).json()["call_status"]
                == "registered"
            )
            sim.advance(61)
        assert len(batch_calls(http, batch["batch_call_id"])) == 6
        assert http.get("/_sim/stats").json()["peak_concurrency"] == 3


def test_batch_calls_carry_task_data_but_no_batch_id(monday: SimulatorHandle) -> None:
    with api_client(monday) as http:
        payload = {
            "from_number": "+14155550100",
            "tasks": [
                {
                    "to_number": "+14155558100",
                    "metadata": {"campaign": "b1", "contact": 1},
                    "retell_llm_dynamic_variables": {"first_name": "Ada"},
                    "override_agent_id": "agent_campaigner_demo_b",
                }
            ],
        }
        batch = http.post("/create-batch-call", json=payload).json()
        monday.advance(1)
        (call,) = batch_calls(http, batch["batch_call_id"])
        full = http.get(f"/v2/get-call/{call['call_id']}").json()
    assert full["metadata"] == {"campaign": "b1", "contact": 1}
    assert full["retell_llm_dynamic_variables"] == {"first_name": "Ada"}
    assert full["agent_id"] == "agent_campaigner_demo_b"
    assert "batch_call_id" not in full


def test_canonical_window_in_the_response(http: httpx.Client) -> None:
    window = {
        "windows": [{"start": 900, "end": 1000}, {"start": 540, "end": 600}],
        "day": ["Friday", "Monday"],
    }
    batch = create_batch(http, 1, call_time_window=window)
    assert batch["call_time_window"] == {
        "windows": [{"start": 540, "end": 600}, {"start": 900, "end": 1000}],
        "timezone": "America/Los_Angeles",
        "day": ["Monday", "Friday"],
    }
    assert "call_time_window" not in create_batch(http, 1)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"tasks": []}, "tasks: list should have at least 1 item"),
        (
            {"tasks": [{"to_number": "+14155550001"}, {"to_number": "555"}]},
            "tasks[1].to_number: '555' is not an E.164",
        ),
        ({"tasks": [{"metadata": {}}]}, "tasks[0].to_number: field required"),
        (
            {"call_time_window": {"windows": [{"start": 600, "end": 540}]}},
            "call_time_window.windows[0]: value error, start (600)",
        ),
        (
            {"call_time_window": {"windows": [{"start": 0, "end": 1500}]}},
            "call_time_window.windows[0].end: ",
        ),
        (
            {"call_time_window": {"windows": []}},
            "call_time_window.windows: list should have at least 1 item",
        ),
        (
            {"call_time_window": {"windows": NINE_TO_FIVE, "timezone": "Mars/Olympus"}},
            "call_time_window.timezone: value error, unknown IANA",
        ),
        (
            {"call_time_window": {"windows": NINE_TO_FIVE, "day": ["Funday"]}},
            "call_time_window.day[0]: ",
        ),
    ],
)
def test_bad_batches_are_400(http: httpx.Client, body: dict[str, Any], message: str) -> None:
    payload = {"from_number": "+14155550100", "tasks": [{"to_number": "+14155550001"}], **body}
    response = http.post("/create-batch-call", json=payload)
    assert response.status_code == 400
    assert response.json()["message"].startswith(message)


def test_call_window_across_daylight_saving() -> None:
    window = BatchCallWindow(
        TimeWindowBody(windows=[{"start": 540, "end": 600}], timezone="America/New_York")
    )
    saturday_late = int(datetime(2026, 3, 7, 15, 30, tzinfo=UTC).timestamp() * 1000)  # 10:30 EST
    sunday_nine_edt = int(datetime(2026, 3, 8, 13, 0, tzinfo=UTC).timestamp() * 1000)
    assert window.is_open(saturday_late) is False
    assert window.next_open(saturday_late) == sunday_nine_edt
    assert window.is_open(sunday_nine_edt) is True
    assert window.is_open(sunday_nine_edt + HOUR_MS) is False


@pytest.mark.parametrize("policy", ["refuse", "dial"])
def test_a_task_to_a_number_on_the_internal_dnc_list(
    make_simulator: MakeSimulator, policy: str
) -> None:
    """With `batch_internal_dnc="refuse"` one such task refuses the whole batch, as
    `honor_internal_dnc` refuses a single create; by default the batch dials it."""
    sim = make_simulator(
        start_ms=MONDAY_NOON_UTC, cps=1000, outcomes=INSTANT, batch_internal_dnc=policy
    )
    with api_client(sim) as http:
        assert http.post("/_sim/dnc", json={"number": "+14158000001"}).status_code < 300
        payload = {
            "from_number": "+14155550100",
            "tasks": [{"to_number": f"+1415800{n:04d}"} for n in range(3)],
        }
        response = http.post("/create-batch-call", json=payload)
        sim.advance(1)
        stats = http.get("/_sim/stats").json()
    if policy == "refuse":
        assert response.status_code == 400
        assert response.json() == {
            "status": "error",
            "message": "tasks[1].to_number: +14158000001 is on the internal do-not-call list",
        }
        assert (stats["batches"], stats["calls_created"]) == (0, 0)
    else:
        assert response.status_code == 201
        assert (stats["batches"], stats["calls_created"]) == (1, 3)


@pytest.mark.parametrize(
    ("kept", "present"),
    [
        ("start_and_end", {"start_timestamp", "end_timestamp", "duration_ms"}),
        ("start_only", {"start_timestamp"}),
        ("end_only", {"end_timestamp"}),
        ("none", set()),
    ],
)
def test_batch_calls_that_never_connect_can_lack_timestamps(
    make_simulator: MakeSimulator, kept: str, present: set[str]
) -> None:
    sim = make_simulator(cps=100, batch_failure_timestamps=kept)
    timestamps = {"start_timestamp", "end_timestamp", "duration_ms"}
    with api_client(sim) as http:
        force(http, "+14158000000", "dial_busy")
        batch = create_batch(http, 1)
        single = create_call(http, "+14158000000")
        sim.advance(60)
        (call,) = batch_calls(http, batch["batch_call_id"])
        alone = http.get(f"/v2/get-call/{single['call_id']}").json()
    assert call["call_status"] == "not_connected"
    assert timestamps & set(call) == present
    assert timestamps <= set(alone)  # a call outside a batch keeps both
