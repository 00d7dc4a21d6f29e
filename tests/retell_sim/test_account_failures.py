"""Retell's account- and trunk-level failures: a trunk that fails every call, credit running out."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.retell_sim.conftest import MakeSimulator
from tests.retell_sim.helpers import INSTANT, api_client, batch_calls, create_batch, create_call

TRUNK_REASONS = (
    "telephony_provider_permission_denied",
    "telephony_provider_unavailable",
    "sip_routing_error",
    "marked_as_spam",
    "dial_failed",
)


def _get(http: httpx.Client, call: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = http.get(f"/v2/get-call/{call['call_id']}").json()
    return found


@pytest.mark.parametrize("reason", TRUNK_REASONS)
def test_a_failing_trunk_fails_every_call_at_once(
    make_simulator: MakeSimulator, reason: str
) -> None:
    sim = make_simulator(trunk_failure=reason, cps=100, outcomes=INSTANT)
    with api_client(sim) as http:
        calls = [create_call(http, f"+1415555200{n}") for n in range(3)]
        sim.advance(0.1)
        ended = [_get(http, call) for call in calls]
    assert {call["disconnection_reason"] for call in ended} == {reason}
    assert {call["call_status"] for call in ended} == {"not_connected"}


def test_a_failing_trunk_fails_batch_calls_too(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(trunk_failure="marked_as_spam", cps=100, outcomes=INSTANT)
    with api_client(sim) as http:
        batch = create_batch(http, 2)
        sim.advance(1)
        placed = batch_calls(http, batch["batch_call_id"])
    assert [call["disconnection_reason"] for call in placed] == ["marked_as_spam"] * 2


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("credit_exhausted", "Insufficient credit, please add credit to your account."),
        ("no_valid_payment", "Trial has ended, please add payment method."),
    ],
)
def test_once_the_credit_is_spent_calls_end_and_creates_answer_402(
    make_simulator: MakeSimulator, reason: str, message: str
) -> None:
    sim = make_simulator(credit_calls=2, out_of_credit_reason=reason, cps=100, outcomes=INSTANT)
    with api_client(sim) as http:
        paid = [create_call(http, f"+1415555300{n}") for n in range(2)]
        sim.advance(5)
        assert [_get(http, call)["call_status"] for call in paid] == ["ongoing"] * 2
        refused = http.post(
            "/v2/create-phone-call",
            json={"from_number": "+14155550100", "to_number": "+14155553009"},
        )
        assert refused.status_code == 402
        assert refused.json() == {"status": "error", "message": message}
        cut = [_get(http, call) for call in paid]
        assert [call["disconnection_reason"] for call in cut] == [reason] * 2
        batch = http.post(
            "/create-batch-call",
            json={"from_number": "+14155550100", "tasks": [{"to_number": "+14155553010"}]},
        )
        assert batch.status_code == 402


def test_a_batch_accepted_before_the_credit_ran_out_fails_its_later_calls(
    make_simulator: MakeSimulator,
) -> None:
    sim = make_simulator(credit_calls=1, cps=100, outcomes=INSTANT)
    with api_client(sim) as http:
        batch = create_batch(http, 2)
        sim.advance(5)
        placed = batch_calls(http, batch["batch_call_id"])
    assert [call["disconnection_reason"] for call in placed] == ["credit_exhausted"] * 2
    # Both were still dialing when the second task found the credit spent.
    assert [call["call_status"] for call in placed] == ["error", "error"]


def test_a_repaired_account_places_calls_again(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(credit_calls=1, trunk_failure="marked_as_spam", cps=100, outcomes=INSTANT)
    with api_client(sim) as http:
        create_call(http, "+14155553100")
        refused = http.post(
            "/v2/create-phone-call",
            json={"from_number": "+14155550100", "to_number": "+14155553101"},
        )
        assert refused.status_code == 402
        sim.call(lambda simulator: simulator.repair_account())
        again = create_call(http, "+14155553101")
        sim.advance(5)
        assert _get(http, again)["call_status"] == "ongoing"
