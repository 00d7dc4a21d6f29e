"""Injected faults: 5xx, 429, slow, dropped connections and lost create responses."""

from __future__ import annotations

import time

import httpx
import pytest

import retell
from retell import Retell
from retell_sim import FAULT_PROFILES, FaultSpec, parse_faults
from tests.retell_sim.conftest import MakeSimulator
from tests.retell_sim.helpers import api_client

CREATE_BODY = {
    "from_number": "+14155550100",
    "to_number": "+14155551200",
    "metadata": {"attempt": "a-1"},
}


def test_fault_specs_and_profiles_parse() -> None:
    spec = parse_faults("5xx=0.02,429=0.01,slow=0.01:3.0,drop=0.005,lost_create=0.01:130")
    assert spec.rates == {
        "5xx": 0.02,
        "429": 0.01,
        "slow": 0.01,
        "drop": 0.005,
        "lost_create": 0.01,
    }
    assert spec.slow_seconds == 3.0
    assert spec.lost_create_hang_seconds == 130.0
    assert parse_faults(spec.describe()) == spec
    assert parse_faults("none") == FaultSpec()
    for name in FAULT_PROFILES:
        assert parse_faults(name) == parse_faults(FAULT_PROFILES[name])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("boom=0.1", "fault spec entry 'boom=0.1'"),
        ("5xx", "fault spec entry '5xx'"),
        ("5xx=lots", "fault 5xx rate must be a number"),
        ("5xx=1.5", "fault 5xx rate must be between 0 and 1"),
        ("drop=0.1:2", "fault drop takes no duration"),
        ("5xx=0.6,429=0.6", "fault rates add up to more than 1"),
    ],
)
def test_bad_fault_specs_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_faults(text)


def test_drop_breaks_the_response_and_spares_control_endpoints(
    make_simulator: MakeSimulator,
) -> None:
    sim = make_simulator(faults="drop=1")
    with api_client(sim) as http:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            http.get("/get-concurrency")
        stats = http.get("/_sim/stats")
    assert stats.status_code == 200
    assert stats.json()["faults_injected"] == {"drop": 1}


def test_lost_create_still_places_the_call(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(faults="lost_create=1", cps=100)
    with api_client(sim) as http:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            http.post("/v2/create-phone-call", json=CREATE_BODY)
        # Reads are never "lost": the caller can find what it created by its metadata.
        found = http.post(
            "/v3/list-calls",
            json={
                "filter_criteria": {
                    "metadata": [{"key": "attempt", "type": "string", "op": "eq", "value": "a-1"}]
                }
            },
        ).json()["items"]
        assert len(found) == 1
        assert found[0]["call_status"] == "registered"
        assert http.get("/_sim/stats").json()["faults_injected"] == {"lost_create": 1}


def test_lost_create_can_hang_past_the_client_timeout(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(faults="lost_create=1:1", cps=100)
    with api_client(sim, timeout=0.3) as http, pytest.raises(httpx.ReadTimeout):
        http.post("/v2/create-phone-call", json={**CREATE_BODY, "idempotency_key": "k-1"})
    with api_client(sim) as http:
        http.post("/_sim/faults", json={"spec": "none"})
        replay = http.post("/v2/create-phone-call", json={**CREATE_BODY, "idempotency_key": "k-1"})
        assert replay.status_code == 201
        assert http.get("/_sim/stats").json()["idempotent_replays"] == 1


def test_server_errors_at_the_configured_rate_and_repeatable(make_simulator: MakeSimulator) -> None:
    def statuses() -> list[int]:
        sim = make_simulator(faults="5xx=0.2", seed=3)
        with api_client(sim) as http:
            return [http.get("/get-concurrency").status_code for _ in range(300)]

    first = statuses()
    failed = [code for code in first if code >= 500]
    assert 40 <= len(failed) <= 80
    assert set(failed) <= {500, 502, 503}
    assert statuses() == first


def test_sdk_sees_injected_errors(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(faults="5xx=1")
    with (
        Retell(api_key=sim.api_key, base_url=sim.base_url, max_retries=0) as client,
        pytest.raises(retell.InternalServerError),
    ):
        client.concurrency.retrieve()


def test_injected_429_carries_retry_after(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(faults="429=1")
    with api_client(sim) as http:
        refused = http.get("/get-concurrency")
        stats = http.get("/_sim/stats").json()
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert stats["faults_injected"] == {"429": 1}
    assert stats["rejected_429"] == 0


def test_slow_delays_then_answers(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(faults="slow=1:0.3")
    with api_client(sim) as http:
        started = time.monotonic()
        response = http.get("/get-concurrency")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


def test_faults_change_at_run_time_and_reset_restores_them(make_simulator: MakeSimulator) -> None:
    sim = make_simulator()
    with api_client(sim) as http:
        assert http.get("/_sim/faults").json() == {"spec": ""}
        changed = http.post("/_sim/faults", json={"spec": "5xx=1"})
        assert changed.json() == {"spec": "5xx=1"}
        assert http.get("/get-concurrency").status_code >= 500
        bad = http.post("/_sim/faults", json={"spec": "5xx=2"})
        assert bad.status_code == 400
        assert bad.json()["message"].startswith("spec: fault 5xx rate")
        http.post("/_sim/reset")
        assert http.get("/get-concurrency").status_code == 200


def test_a_capacity_fault_places_a_call_that_ends_refused(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(faults="capacity=1", cps=100)
    with api_client(sim) as http:
        created = http.post("/v2/create-phone-call", json=CREATE_BODY)
        concurrency = http.get("/get-concurrency").json()
        stats = http.get("/_sim/stats").json()
        call = http.get(f"/v2/get-call/{created.json()['call_id']}").json()
    assert created.status_code == 201
    assert (call["call_status"], call["disconnection_reason"]) == (
        "error",
        "concurrency_limit_reached",
    )
    # Only creates draw it: the read above was answered as usual, and no slot was taken.
    assert concurrency["current_concurrency"] == 0
    assert stats["faults_injected"] == {"capacity": 1}


def test_capacity_faults_parse_and_are_described() -> None:
    spec = parse_faults("capacity=0.05,lost_create=0.1")
    assert spec.rates == {"capacity": 0.05, "lost_create": 0.1}
    assert parse_faults(spec.describe()) == spec
