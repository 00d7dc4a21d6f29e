"""What a finished Retell call means for the campaign: its `OutcomeClass`.

This is the one place where Retell's `disconnection_reason` values are interpreted
(retell-api.md §4.3); what each outcome class then means is the table
`campaigner.outcomes.OUTCOMES`. Reasons Retell adds later fall back by `call_status`, so a new value
is never fatal: an unknown reason on a connected call counts as a conversation, anywhere else as a
transient failure that is retried.
"""

from __future__ import annotations

from campaigner.outcomes import OutcomeClass
from campaigner.retell import Call

__all__ = ["CONVERSATION_REASONS", "REASON_OUTCOMES", "classify_call", "needs_analysis"]

# Reasons that mean a person (or at least the line) was connected and the conversation ran its
# course: success or not is decided by the post-call analysis.
CONVERSATION_REASONS = frozenset(
    {
        "user_hangup",
        "agent_hangup",
        "call_transfer",
        "transfer_bridged",
        "transfer_cancelled",
        "inactivity",
        "max_duration_reached",
        "manual_stopped",
        "call_take_over",
    }
)

REASON_OUTCOMES: dict[str, OutcomeClass] = {
    "voicemail_reached": OutcomeClass.VOICEMAIL,
    "ivr_reached": OutcomeClass.VOICEMAIL,
    "user_requested_dnc": OutcomeClass.DNC_REQUEST,
    "user_requested_callback": OutcomeClass.CALLBACK_REQUESTED,
    "dial_no_answer": OutcomeClass.NO_ANSWER,
    "dial_busy": OutcomeClass.BUSY,
    "user_declined": OutcomeClass.DECLINED,
    "dial_failed": OutcomeClass.TRANSIENT_FAILURE,
    "marked_as_spam": OutcomeClass.TRANSIENT_FAILURE,
    "telephony_provider_unavailable": OutcomeClass.TRANSIENT_FAILURE,
    "sip_routing_error": OutcomeClass.TRANSIENT_FAILURE,
    # The trunk refused campaigner's credentials: the account's setup, not the contact.
    "telephony_provider_permission_denied": OutcomeClass.ACCOUNT_ERROR,
    "network_blocked": OutcomeClass.PERMANENT_FAILURE,
    "invalid_destination": OutcomeClass.INVALID_NUMBER,
    "concurrency_limit_reached": OutcomeClass.CAPACITY,
    "no_concurrency_fallback": OutcomeClass.CAPACITY,
    "no_valid_payment": OutcomeClass.ACCOUNT_ERROR,
    "credit_exhausted": OutcomeClass.ACCOUNT_ERROR,
    "budget_reached": OutcomeClass.ACCOUNT_ERROR,
    "scam_detected": OutcomeClass.ACCOUNT_ERROR,
    "error_llm_websocket_open": OutcomeClass.TRANSIENT_FAILURE,
    "error_llm_websocket_lost_connection": OutcomeClass.TRANSIENT_FAILURE,
    "error_llm_websocket_runtime": OutcomeClass.TRANSIENT_FAILURE,
    "error_llm_websocket_corrupt_payload": OutcomeClass.TRANSIENT_FAILURE,
    "error_no_audio_received": OutcomeClass.TRANSIENT_FAILURE,
    "error_asr": OutcomeClass.TRANSIENT_FAILURE,
    "error_retell": OutcomeClass.TRANSIENT_FAILURE,
    "error_unknown": OutcomeClass.TRANSIENT_FAILURE,
    "error_user_not_joined": OutcomeClass.TRANSIENT_FAILURE,
    "registered_call_timeout": OutcomeClass.TRANSIENT_FAILURE,
}


def _is_conversation(call: Call) -> bool:
    reason = call.disconnection_reason
    if reason in CONVERSATION_REASONS:
        return True
    return reason not in REASON_OUTCOMES and call.call_status == "ended"


def needs_analysis(call: Call) -> bool:
    """True when the outcome of this finished call waits on its post-call analysis."""
    return call.is_terminal and _is_conversation(call) and call.call_analysis is None


def classify_call(call: Call, *, analysis_timed_out: bool = False) -> OutcomeClass | None:
    """The outcome class of a call, or None while it is not decided yet.

    A conversation is decided by its analysis (`call_successful`, `in_voicemail`); when the
    analysis has not come within the campaign's `analysis_timeout`, it counts as connected without
    success.
    """
    if not call.is_terminal:
        return None
    if _is_conversation(call):
        analysis = call.call_analysis
        if analysis is None:
            return OutcomeClass.CONNECTED_UNSUCCESSFUL if analysis_timed_out else None
        if analysis.in_voicemail:
            return OutcomeClass.VOICEMAIL
        if analysis.call_successful:
            return OutcomeClass.SUCCESS
        return OutcomeClass.CONNECTED_UNSUCCESSFUL
    reason = call.disconnection_reason
    if reason is not None and reason in REASON_OUTCOMES:
        return REASON_OUTCOMES[reason]
    return OutcomeClass.TRANSIENT_FAILURE
