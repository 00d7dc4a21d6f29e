"""Concurrency slots, calls per second and the API rate limit."""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.retell_sim.conftest import MakeSimulator
from tests.retell_sim.helpers import INSTANT, api_client, create_call, force

CREATE = "/v2/create-phone-call"


def _body(n: int) -> dict[str, Any]:
    return {"from_number": "+14155550100", "to_number": f"+1415600{n:04d}"}


def _burst(http: httpx.Client, count: int) -> list[httpx.Response]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda n: http.post(CREATE, json=_body(n)), range(count)))


def test_burst_never_exceeds_concurrency_and_excess_calls_error(
    make_simulator: MakeSimulator,
) -> None:
    sim = make_simulator(concurrency_limit=5, cps=1000)
    with api_client(sim) as http:
        responses = _burst(http, 40)
        assert {response.status_code for response in responses} == {201}
        assert http.get("/get-concurrency").json()["current_concurrency"] == 5
        sim.advance(1)
        body = {
            "filter_criteria": {
                "disconnection_reason": {
                    "type": "enum",
                    "op": "in",
                    "value": ["concurrency_limit_reached"],
                }
            }
        }
        errored = http.post("/v3/list-calls", json={**body, "limit": 1000}).json()["items"]
        assert len(errored) == 35
        assert {call["call_status"] for call in errored} == {"error"}
        sim.advance(3 * 3600)
        stats = http.get("/_sim/stats").json()
        assert stats["peak_concurrency"] == 5
        assert stats["current_concurrency"] == 0
        assert create_call(http)["call_status"] == "registered"
        assert http.get("/get-concurrency").json()["current_concurrency"] == 1


def test_exhausted_concurrency_can_answer_429(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(concurrency_limit=3, cps=1000, concurrency_exhausted="429")
    with api_client(sim) as http:
        responses = _burst(http, 10)
        assert sorted(r.status_code for r in responses) == [201] * 3 + [429] * 7
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.json()["status"] == "error"
        assert refused.headers["retry-after"] == "1"
        stats = http.get("/_sim/stats").json()
    assert stats["peak_concurrency"] == 3
    assert stats["calls_created"] == 3
    assert stats["rejected_429_by_cause"] == {"concurrency": 7}


def test_reserved_inbound_and_burst_limits(make_simulator: MakeSimulator) -> None:
    reserved = make_simulator(
        concurrency_limit=5, reserved_inbound_concurrency=2, cps=1000, concurrency_exhausted="429"
    )
    with api_client(reserved) as http:
        assert [r.status_code for r in _burst(http, 4)].count(201) == 3
        report = http.get("/get-concurrency").json()
    assert report["reserved_inbound_concurrency"] == 2
    assert report["current_concurrency"] == 3

    burst = make_simulator(
        concurrency_limit=2, concurrency_burst_enabled=True, cps=1000, concurrency_exhausted="429"
    )
    with api_client(burst) as http:
        assert [r.status_code for r in _burst(http, 8)].count(201) == 6
        report = http.get("/get-concurrency").json()
    assert report["concurrency_burst_limit"] == 6
    assert report["concurrency_burst_enabled"] is True


def test_cps_rejects_with_retry_after_in_virtual_time(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(cps=1)
    with api_client(sim) as http:
        create_call(http)
        refused = http.post(CREATE, json=_body(1))
        assert refused.status_code == 429
        assert refused.json()["message"] == "Account rate limited, please throttle your requests."
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["retry-after-ms"] == "1000"
        sim.advance(0.5)
        assert http.post(CREATE, json=_body(2)).headers["retry-after-ms"] == "500"
        sim.advance(0.5)
        create_call(http)
        assert http.get("/_sim/stats").json()["rejected_429_by_cause"] == {"cps": 2}


def test_cps_retry_after_is_real_seconds_on_a_fast_clock(make_simulator: MakeSimulator) -> None:
    # One dial per 10 virtual seconds at 4x speed: the next slot is at most 2.5 real seconds away.
    sim = make_simulator(cps=0.1, speed=4)
    with api_client(sim) as http:
        create_call(http)
        refused = http.post(CREATE, json=_body(1))
    assert refused.status_code == 429
    wait_ms = int(refused.headers["retry-after-ms"])
    assert 1500 <= wait_ms <= 2500
    assert refused.headers["retry-after"] == str(math.ceil(wait_ms / 1000))


def test_cps_allows_a_one_second_burst(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(cps=5)
    with api_client(sim) as http:
        codes = [http.post(CREATE, json=_body(n)).status_code for n in range(7)]
    assert codes == [201] * 5 + [429] * 2


def test_cps_queue_spaces_dial_starts_and_holds_slots(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(cps=1, cps_exceeded="queue", concurrency_limit=3, outcomes=INSTANT)
    with api_client(sim) as http:
        created = [create_call(http, f"+1415700{n:04d}") for n in range(4)]
        assert [call["call_status"] for call in created] == ["registered"] * 4
        sim.advance(0.5)
        statuses = [http.get(f"/v2/get-call/{c['call_id']}").json()["call_status"] for c in created]
        # One dialed at once, two queued for their second, the fourth found every slot taken.
        assert statuses == ["ongoing", "registered", "registered", "error"]
        sim.advance(5)
        calls = [http.get(f"/v2/get-call/{c['call_id']}").json() for c in created[:3]]
    starts = [call["start_timestamp"] for call in calls]
    assert [b - a for a, b in itertools.pairwise(starts)] == [1000, 1000]


def test_api_rate_limit_answers_429_with_retry_after(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(rate_limit=5)
    with api_client(sim) as http:
        codes = [http.get("/get-concurrency") for _ in range(8)]
        refused = [r for r in codes if r.status_code == 429]
        assert refused
        assert (
            refused[0].json()["message"] == "Account rate limited, please throttle your requests."
        )
        assert refused[0].headers["retry-after"] == "1"
        assert 0 < int(refused[0].headers["retry-after-ms"]) <= 200
        assert http.get("/_sim/stats").json()["rejected_429_by_cause"]["rate_limit"] == len(refused)


def test_retry_after_headers_can_be_left_out(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(rate_limit=1, retry_after_headers=False)
    with api_client(sim) as http:
        responses = [http.get("/get-concurrency") for _ in range(3)]
    refused = [r for r in responses if r.status_code == 429]
    assert refused
    assert "retry-after" not in refused[0].headers
    assert "retry-after-ms" not in refused[0].headers


def test_busy_slot_seconds_sums_exact_occupancy(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(cps=1000, outcomes=INSTANT)
    with api_client(sim) as http:
        force(http, "+14155558001", "agent_hangup", duration_ms=60_000)
        force(http, "+14155558002", "user_hangup", duration_ms=30_000)
        create_call(http, "+14155558001")
        create_call(http, "+14155558002")
        sim.advance(10)
        assert http.get("/_sim/stats").json()["busy_slot_seconds"] == pytest.approx(20.0)
        sim.advance(100)
        assert http.get("/_sim/stats").json()["busy_slot_seconds"] == pytest.approx(90.0)
