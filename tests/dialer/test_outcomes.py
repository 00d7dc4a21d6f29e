from __future__ import annotations

from typing import Any

import pytest
from retell.types.phone_call_response import PhoneCallResponse

from campaigner.campaign import OutcomeClass
from campaigner.dialer.outcomes import (
    CONVERSATION_REASONS,
    REASON_OUTCOMES,
    classify_call,
    needs_analysis,
)
from campaigner.retell import Call


def call(status: str, reason: str | None, analysis: dict[str, Any] | None = None) -> Call:
    return Call.model_validate(
        {
            "call_id": "c",
            "call_status": status,
            "disconnection_reason": reason,
            "call_analysis": analysis,
        }
    )


@pytest.mark.parametrize(
    ("status", "reason", "expected"),
    [
        ("not_connected", "dial_no_answer", OutcomeClass.NO_ANSWER),
        ("not_connected", "dial_busy", OutcomeClass.BUSY),
        ("not_connected", "user_declined", OutcomeClass.DECLINED),
        ("not_connected", "invalid_destination", OutcomeClass.INVALID_NUMBER),
        ("not_connected", "dial_failed", OutcomeClass.TRANSIENT_FAILURE),
        ("ended", "voicemail_reached", OutcomeClass.VOICEMAIL),
        ("ended", "user_requested_dnc", OutcomeClass.DNC_REQUEST),
        ("ended", "user_requested_callback", OutcomeClass.CALLBACK_REQUESTED),
        ("error", "concurrency_limit_reached", OutcomeClass.CAPACITY),
        ("error", "no_valid_payment", OutcomeClass.ACCOUNT_ERROR),
        ("error", "error_llm_websocket_open", OutcomeClass.TRANSIENT_FAILURE),
        ("error", "a_reason_retell_adds_next_year", OutcomeClass.TRANSIENT_FAILURE),
        ("not_connected", None, OutcomeClass.TRANSIENT_FAILURE),
    ],
)
def test_reasons_map_to_outcome_classes(
    status: str, reason: str | None, expected: OutcomeClass
) -> None:
    assert classify_call(call(status, reason)) is expected


def test_conversation_waits_for_analysis_then_decides_on_it() -> None:
    pending = call("ended", "user_hangup")
    assert needs_analysis(pending)
    assert classify_call(pending) is None
    assert classify_call(pending, analysis_timed_out=True) is OutcomeClass.CONNECTED_UNSUCCESSFUL
    success = call("ended", "agent_hangup", {"call_successful": True})
    assert classify_call(success) is OutcomeClass.SUCCESS
    assert not needs_analysis(success)
    unsuccessful = call("ended", "user_hangup", {"call_successful": False})
    assert classify_call(unsuccessful) is OutcomeClass.CONNECTED_UNSUCCESSFUL
    machine = call("ended", "user_hangup", {"in_voicemail": True, "call_successful": False})
    assert classify_call(machine) is OutcomeClass.VOICEMAIL


def test_unknown_reason_on_an_ended_call_is_a_conversation() -> None:
    assert classify_call(call("ended", "new_reason", {"call_successful": True})) is (
        OutcomeClass.SUCCESS
    )


def test_calls_in_progress_have_no_outcome() -> None:
    assert classify_call(call("registered", None)) is None
    assert classify_call(call("ongoing", None)) is None
    assert not needs_analysis(call("ongoing", None))


def test_every_reason_of_the_sdk_is_mapped() -> None:

    annotation = PhoneCallResponse.model_fields["disconnection_reason"].annotation
    sdk_reasons = set(
        str(annotation).split("Literal[")[1].split("]")[0].replace("'", "").split(", ")
    )

    assert sdk_reasons - set(REASON_OUTCOMES) - CONVERSATION_REASONS == set()
