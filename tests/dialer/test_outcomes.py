from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

import pytest
from retell.types.call_response import CallResponse
from retell.types.phone_call_response import PhoneCallResponse
from retell.types.web_call_response import WebCallResponse

from campaigner.dialer.outcomes import (
    CONVERSATION_REASONS,
    REASON_OUTCOMES,
    classify_call,
    needs_analysis,
)
from campaigner.outcomes import OutcomeClass
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


def literal_values(annotation: object) -> set[str]:
    """Every value of the `Literal`s inside an annotation (`Optional[Literal[...]]` and such)."""
    if get_origin(annotation) is Literal:
        return {str(value) for value in get_args(annotation)}
    return {value for inner in get_args(annotation) for value in literal_values(inner)}


def sdk_disconnection_reasons() -> set[str]:
    """The reasons Retell's official SDK declares, on phone and web calls alike."""
    calls = get_args(CallResponse)
    assert {PhoneCallResponse, WebCallResponse} <= set(calls)
    return {
        reason
        for model in calls
        for reason in literal_values(model.model_fields["disconnection_reason"].annotation)
    }


def test_every_reason_of_the_sdk_is_mapped_and_no_other() -> None:
    reasons = sdk_disconnection_reasons()

    assert len(reasons) == 39
    assert CONVERSATION_REASONS.isdisjoint(REASON_OUTCOMES)
    assert set(REASON_OUTCOMES) | CONVERSATION_REASONS == reasons
