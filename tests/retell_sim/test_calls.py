"""Call lifecycles on the manual clock, outcomes, idempotency and the internal DNC list."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import httpx
import pytest

from retell_sim import OutcomeModel, SimulatorConfig, SimulatorHandle
from retell_sim.outcomes import draw_outcome
from tests.retell_sim.conftest import MakeSimulator
from tests.retell_sim.helpers import api_client, create_call, force

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


@pytest.fixture
def pinned(make_simulator: MakeSimulator) -> SimulatorHandle:
    """A manual-clock simulator whose virtual time starts at START_MS."""
    return make_simulator(start_ms=START_MS, cps=1000)


def _get(http: httpx.Client, call_id: str) -> dict[str, Any]:
    response = http.get(f"/v2/get-call/{call_id}")
    assert response.status_code == 200
    call: dict[str, Any] = response.json()
    return call


def test_connected_call_walks_registered_ongoing_ended_analyzed(pinned: SimulatorHandle) -> None:
    with api_client(pinned) as http:
        force(http, "+14155553000", "user_hangup", duration_ms=60_000, call_successful=False)
        call = create_call(http, "+14155553000")
        assert call["call_status"] == "registered"
        assert "start_timestamp" not in call

        pinned.advance(15)  # ringing takes at most 12 s
        live = _get(http, call["call_id"])
        assert live["call_status"] == "ongoing"
        assert START_MS < live["start_timestamp"] <= START_MS + 12_000
        assert "end_timestamp" not in live

        now = http.get("/_sim/clock").json()["virtual_now_ms"]
        pinned.advance((live["start_timestamp"] + 60_000 - now) / 1000)
        ended = _get(http, call["call_id"])
        assert ended["call_status"] == "ended"
        assert ended["disconnection_reason"] == "user_hangup"
        assert ended["end_timestamp"] - ended["start_timestamp"] == ended["duration_ms"] == 60_000
        assert ended["call_cost"]["total_duration_seconds"] == 60
        assert ended["recording_url"].startswith("https://")
        assert "call_analysis" not in ended

        pinned.advance(3)
        analyzed = _get(http, call["call_id"])
        assert analyzed["call_analysis"]["call_successful"] is False
        assert analyzed["call_analysis"]["in_voicemail"] is False


@pytest.mark.parametrize(
    "reason", ["dial_no_answer", "dial_busy", "user_declined", "dial_failed", "invalid_destination"]
)
def test_unanswered_calls_end_not_connected(
    sim: SimulatorHandle, http: httpx.Client, reason: str
) -> None:
    force(http, "+14155553001", reason)
    call = create_call(http, "+14155553001")
    sim.advance(40)
    ended = _get(http, call["call_id"])
    assert ended["call_status"] == "not_connected"
    assert ended["disconnection_reason"] == reason
    assert ended["duration_ms"] == 0
    assert ended["start_timestamp"] == ended["end_timestamp"]
    assert "transcript" not in ended
    sim.advance(5)
    analysis = _get(http, call["call_id"])["call_analysis"]
    assert analysis["custom_analysis_data"] == {}
    assert analysis["call_successful"] is False


def test_voicemail_is_marked_in_the_analysis(sim: SimulatorHandle, http: httpx.Client) -> None:
    force(http, "+14155553002", "voicemail_reached")
    call = create_call(http, "+14155553002", retell_llm_dynamic_variables={"first_name": "Lee"})
    sim.advance(200)
    done = _get(http, call["call_id"])
    assert done["call_status"] == "ended"
    assert done["call_analysis"]["in_voicemail"] is True
    assert done["call_analysis"]["custom_analysis_data"] == {}
    assert "Hi Lee" in done["transcript"]


def test_forced_error_reason_ends_in_error_status(sim: SimulatorHandle, http: httpx.Client) -> None:
    force(http, "+14155553003", "error_unknown")
    call = create_call(http, "+14155553003")
    sim.advance(10)
    assert _get(http, call["call_id"])["call_status"] == "error"


def test_forced_analysis_values_come_back(sim: SimulatorHandle, http: httpx.Client) -> None:
    force(
        http,
        "+14155553004",
        "agent_hangup",
        duration_ms=30_000,
        call_successful=True,
        user_sentiment="Neutral",
        custom_analysis_data={"appointment_confirmed": True, "interest_level": "medium"},
    )
    call = create_call(http, "+14155553004")
    sim.advance(60)
    analysis = _get(http, call["call_id"])["call_analysis"]
    assert analysis["user_sentiment"] == "Neutral"
    assert analysis["custom_analysis_data"] == {
        "appointment_confirmed": True,
        "interest_level": "medium",
    }
    assert http.delete("/_sim/force/+14155553004").status_code == 204


def test_transcript_falls_back_to_the_llm_default_variables(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    force(http, "+14155553005", "agent_hangup", call_successful=True)
    call = create_call(http, "+14155553005")
    sim.advance(600)
    assert _get(http, call["call_id"])["transcript"].startswith("Agent: Hi there, this is Ava")


def test_agent_max_duration_cuts_long_calls(sim: SimulatorHandle, http: httpx.Client) -> None:
    assert (
        http.patch(
            "/update-agent/agent_campaigner_demo", json={"max_call_duration_ms": 60_000}
        ).status_code
        == 200
    )
    force(http, "+14155553006", "user_hangup", duration_ms=600_000)
    call = create_call(http, "+14155553006")
    sim.advance(120)
    ended = _get(http, call["call_id"])
    assert ended["disconnection_reason"] == "max_duration_reached"
    assert ended["duration_ms"] == 60_000


def test_stop_and_update_and_delete(sim: SimulatorHandle, http: httpx.Client) -> None:
    call = create_call(http, metadata={"campaign": "a"})
    assert http.post(f"/v2/stop-call/{call['call_id']}").status_code == 204
    assert http.post(f"/v2/stop-call/{call['call_id']}").status_code == 400

    updated = http.patch(f"/v2/update-call/{call['call_id']}", json={"metadata": {"campaign": "b"}})
    assert updated.json()["metadata"] == {"campaign": "b"}

    def campaign(value: str) -> list[str]:
        body = {
            "filter_criteria": {
                "metadata": [{"key": "campaign", "type": "string", "op": "eq", "value": value}]
            }
        }
        return [item["call_id"] for item in http.post("/v3/list-calls", json=body).json()["items"]]

    assert campaign("a") == []
    assert campaign("b") == [call["call_id"]]


def test_idempotency_key_replays_the_same_call_for_an_hour(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    first = create_call(http, idempotency_key="attempt-1")
    again = create_call(http, "+14155559876", idempotency_key="attempt-1")
    assert again["call_id"] == first["call_id"]
    assert again["to_number"] == first["to_number"]
    assert http.get("/_sim/stats").json()["idempotent_replays"] == 1

    sim.advance(3600)
    later = create_call(http, idempotency_key="attempt-1")
    assert later["call_id"] != first["call_id"]
    assert http.get("/_sim/stats").json()["calls_created"] == 2


def test_reused_key_with_another_body_can_be_rejected(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(idempotency_conflict="reject", cps=100)
    with api_client(sim) as http:
        create_call(http, idempotency_key="k")
        assert create_call(http, idempotency_key="k")["call_id"]
        conflict = http.post(
            "/v2/create-phone-call",
            json={
                "from_number": "+14155550100",
                "to_number": "+14155550001",
                "idempotency_key": "k",
            },
        )
    assert conflict.status_code == 409
    assert conflict.json()["message"].startswith("idempotency_key")


def test_dnc_request_on_a_call_blocks_later_calls_that_honor_it(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    force(http, "+14155553007", "user_requested_dnc")
    create_call(http, "+14155553007")
    sim.advance(300)
    refused = http.post(
        "/v2/create-phone-call",
        json={
            "from_number": "+14155550100",
            "to_number": "+14155553007",
            "honor_internal_dnc": True,
        },
    )
    assert refused.status_code == 400
    assert "do-not-call" in refused.json()["message"]
    assert create_call(http, "+14155553007")["call_status"] == "registered"


def test_dnc_list_can_be_fed_directly(http: httpx.Client) -> None:
    assert http.post("/_sim/dnc", json={"number": "+14155553008"}).status_code == 200
    refused = http.post(
        "/v2/create-phone-call",
        json={
            "from_number": "+14155550100",
            "to_number": "+14155553008",
            "honor_internal_dnc": True,
        },
    )
    assert refused.status_code == 400
    assert http.post("/_sim/dnc", json={"number": "555"}).status_code == 400


def test_reset_forgets_calls_but_keeps_the_workspace(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    call = create_call(http)
    assert http.post("/_sim/reset").status_code == 200
    assert http.get(f"/v2/get-call/{call['call_id']}").status_code == 422
    assert http.get("/get-agent/agent_campaigner_demo").status_code == 200
    stats = http.get("/_sim/stats").json()
    assert stats["calls_created"] == 0
    assert stats["current_concurrency"] == 0


def test_outcome_model_shares_and_seeded_repeatability() -> None:
    model = OutcomeModel()
    draws = [draw_outcome(random.Random(f"0:outcome:{seq}"), model, 0.6) for seq in range(20_000)]
    shares = Counter(outcome.reason for outcome in draws)
    assert shares["dial_no_answer"] / len(draws) == pytest.approx(model.no_answer_rate, abs=0.015)
    assert shares["voicemail_reached"] / len(draws) == pytest.approx(
        model.voicemail_rate, abs=0.015
    )
    answered = [o for o in draws if o.reason in ("agent_hangup", "user_hangup")]
    success = sum(o.successful for o in answered) / len(answered)
    assert success == pytest.approx(0.6, abs=0.02)
    talk = sorted(o.talk_ms for o in answered)
    assert talk[len(talk) // 2] == pytest.approx(model.conversation_median_s * 1000, rel=0.05)
    again = [draw_outcome(random.Random(f"0:outcome:{seq}"), model, 0.6) for seq in range(100)]
    assert again == draws[:100]


def test_same_seed_same_outcomes(make_simulator: MakeSimulator) -> None:
    def run() -> list[str]:
        sim = make_simulator(seed=7, cps=1000)
        with api_client(sim) as http:
            ids = [create_call(http, f"+1415555{n:04d}")["call_id"] for n in range(30)]
            sim.advance(7200)
            return [_get(http, call_id)["disconnection_reason"] for call_id in ids]

    assert run() == run()


def test_agents_are_picked_by_weight_and_override_works_without_bindings(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    split = [
        {"agent_id": "agent_campaigner_demo", "weight": 0.5},
        {"agent_id": "agent_campaigner_demo_b", "weight": 0.5},
    ]
    assert (
        http.patch("/update-phone-number/+14155550101", json={"outbound_agents": split}).status_code
        == 200
    )
    picked = Counter(
        create_call(http, f"+1415556{n:04d}", from_number="+14155550101")["agent_id"]
        for n in range(60)
    )
    assert set(picked) == {"agent_campaigner_demo", "agent_campaigner_demo_b"}
    assert min(picked.values()) >= 15

    assert (
        http.post("/create-phone-number", json={"phone_number": "+14155550199"}).status_code == 201
    )
    bare = {"from_number": "+14155550199", "to_number": "+14155551234"}
    assert http.post("/v2/create-phone-call", json=bare).status_code == 400
    overridden = create_call(
        http, from_number="+14155550199", override_agent_id="agent_campaigner_demo_b"
    )
    assert overridden["agent_id"] == "agent_campaigner_demo_b"


def test_custom_analysis_has_a_value_of_each_declared_type(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    fields = [
        {"type": "string", "name": "note", "description": "d"},
        {"type": "enum", "name": "tier", "description": "d", "choices": ["gold", "silver"]},
        {"type": "boolean", "name": "keen", "description": "d"},
        {"type": "number", "name": "score", "description": "d"},
    ]
    agent = http.post(
        "/create-agent",
        json={
            "response_engine": {"type": "retell-llm", "llm_id": "llm_campaigner_demo"},
            "voice_id": "11labs-Myra",
            "post_call_analysis_data": fields,
        },
    ).json()
    force(http, "+14155553010", "agent_hangup", call_successful=True)
    call = create_call(http, "+14155553010", override_agent_id=agent["agent_id"])
    sim.advance(600)
    data = _get(http, call["call_id"])["call_analysis"]["custom_analysis_data"]
    assert isinstance(data["note"], str)
    assert data["tier"] in ("gold", "silver")
    assert isinstance(data["keen"], bool)
    assert isinstance(data["score"], int)


def test_data_storage_setting_only_tightens(http: httpx.Client) -> None:
    call = create_call(http)
    path = f"/v2/update-call/{call['call_id']}"
    assert (
        http.patch(path, json={"data_storage_setting": "basic_attributes_only"}).status_code == 200
    )
    loosened = http.patch(path, json={"data_storage_setting": "everything"})
    assert loosened.status_code == 400
    assert loosened.json()["message"].startswith(
        "data_storage_setting: cannot go from basic_attributes_only"
    )


def test_empty_workspace_and_key_from_environment(
    make_simulator: MakeSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETELL_API_KEY", "key_from_env")
    sim = make_simulator(empty=True, api_key=SimulatorConfig().api_key)
    assert sim.api_key == "key_from_env"
    with api_client(sim) as http:
        assert http.get("/list-agents").json() == []
        assert http.get("/list-phone-numbers").json() == []


METADATA = {"contact": 7, "vip": True, "tags": ["a", 2], "nested": {"score": 0.5}, "none": None}


def test_metadata_is_any_json_object_echoed_as_sent(
    sim: SimulatorHandle, http: httpx.Client
) -> None:
    # The SDK types metadata `object`: values need not be strings.
    created = create_call(http, metadata=METADATA)
    assert created["metadata"] == METADATA
    assert _get(http, created["call_id"])["metadata"] == METADATA
    contact_7 = {"key": "contact", "type": "number", "op": "eq", "value": 7}
    listed = http.post("/v3/list-calls", json={"filter_criteria": {"metadata": [contact_7]}})
    assert [item["metadata"] for item in listed.json()["items"]] == [METADATA]


def test_collected_variables_can_be_other_than_text(make_simulator: MakeSimulator) -> None:
    collected = {"attempts": 2, "confirmed": True, "slot": {"day": "Mon"}}
    outcomes = OutcomeModel.everyone_answers(collected_variables=collected)
    sim = make_simulator(cps=100, outcomes=outcomes)
    with api_client(sim) as http:
        call = create_call(http, retell_llm_dynamic_variables={"first_name": "Ada"})
        sim.advance(3600)
        ended = _get(http, call["call_id"])
    assert ended["collected_dynamic_variables"] == {"first_name": "Ada", **collected}
