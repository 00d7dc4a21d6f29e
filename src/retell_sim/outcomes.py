"""How a simulated call ends: drawn from the seeded `OutcomeModel` or forced per number.

An `Outcome` is decided when the call is created, from an RNG private to that call (seeded by the
simulator seed and the call's sequence number), so a call's fate does not depend on how requests
interleave.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from retell_sim.config import OutcomeModel

__all__ = [
    "DISCONNECTION_REASONS",
    "ForcedOutcome",
    "Outcome",
    "Sentiment",
    "draw_outcome",
    "forced_outcome",
    "status_for_reason",
]

Sentiment = Literal["Positive", "Negative", "Neutral", "Unknown"]

DISCONNECTION_REASONS = (
    "user_hangup",
    "agent_hangup",
    "user_requested_dnc",
    "user_requested_callback",
    "call_transfer",
    "voicemail_reached",
    "ivr_reached",
    "inactivity",
    "max_duration_reached",
    "concurrency_limit_reached",
    "no_concurrency_fallback",
    "no_valid_payment",
    "credit_exhausted",
    "budget_reached",
    "scam_detected",
    "dial_busy",
    "dial_failed",
    "dial_no_answer",
    "invalid_destination",
    "telephony_provider_permission_denied",
    "telephony_provider_unavailable",
    "sip_routing_error",
    "marked_as_spam",
    "network_blocked",
    "user_declined",
    "error_llm_websocket_open",
    "error_llm_websocket_lost_connection",
    "error_llm_websocket_runtime",
    "error_llm_websocket_corrupt_payload",
    "error_no_audio_received",
    "error_asr",
    "error_retell",
    "error_unknown",
    "error_user_not_joined",
    "registered_call_timeout",
    "transfer_bridged",
    "transfer_cancelled",
    "manual_stopped",
    "call_take_over",
)

_NOT_CONNECTED = frozenset(
    {
        "dial_busy",
        "dial_failed",
        "dial_no_answer",
        "invalid_destination",
        "user_declined",
        "marked_as_spam",
        "network_blocked",
        "telephony_provider_permission_denied",
        "telephony_provider_unavailable",
        "sip_routing_error",
    }
)
_ERROR = frozenset(
    {
        "concurrency_limit_reached",
        "no_concurrency_fallback",
        "no_valid_payment",
        "credit_exhausted",
        "budget_reached",
        "scam_detected",
        "registered_call_timeout",
        "error_user_not_joined",
    }
)


def status_for_reason(reason: str) -> str:
    """The terminal ``call_status`` that goes with a disconnection reason (retell-api.md §4.3)."""
    if reason in _NOT_CONNECTED:
        return "not_connected"
    if reason in _ERROR or reason.startswith("error_"):
        return "error"
    return "ended"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The planned end of one call."""

    reason: str
    ring_ms: int
    talk_ms: int
    successful: bool
    sentiment: Sentiment
    custom_analysis_data: dict[str, Any] | None = None

    @property
    def status(self) -> str:
        """Terminal call_status."""
        return status_for_reason(self.reason)

    @property
    def connects(self) -> bool:
        """True when the call reaches ``ongoing`` (someone or something answered)."""
        return self.status == "ended"


class ForcedOutcome(BaseModel):
    """A test's order for every call to one number (POST /_sim/force)."""

    model_config = ConfigDict(extra="forbid")

    to_number: str
    disconnection_reason: str
    duration_ms: int | None = Field(None, ge=0)
    call_successful: bool | None = None
    user_sentiment: Sentiment | None = None
    custom_analysis_data: dict[str, Any] | None = None

    @field_validator("disconnection_reason")
    @classmethod
    def _known_reason(cls, value: str) -> str:
        if value not in DISCONNECTION_REASONS:
            raise ValueError(f"unknown disconnection_reason {value!r}")
        return value


def draw_outcome(rng: random.Random, model: OutcomeModel, success_rate: float) -> Outcome:
    """Draw how a call ends from the outcome model."""
    roll = rng.random()
    for reason, rate in (
        ("invalid_destination", model.invalid_destination_rate),
        ("dial_failed", model.dial_failed_rate),
        ("dial_busy", model.busy_rate),
        ("user_declined", model.declined_rate),
        ("dial_no_answer", model.no_answer_rate),
    ):
        if roll < rate:
            return Outcome(reason, _ring_ms(rng, model, reason), 0, False, "Unknown")
        roll -= rate
    ring = _ring_ms(rng, model, "answered")
    if roll < model.voicemail_rate:
        talk = _lognormal_ms(rng, model.voicemail_median_s, 0.3)
        return Outcome("voicemail_reached", ring, talk, False, "Unknown")
    turn = rng.random()
    if turn < model.dnc_rate:
        return Outcome("user_requested_dnc", ring, _lognormal_ms(rng, 20.0, 0.3), False, "Negative")
    if turn < model.dnc_rate + model.callback_rate:
        talk = _lognormal_ms(rng, 40.0, 0.3)
        return Outcome("user_requested_callback", ring, talk, False, "Neutral")
    successful = rng.random() < success_rate
    talk = _lognormal_ms(rng, model.conversation_median_s, model.conversation_sigma)
    if successful:
        sentiment: Sentiment = "Positive" if rng.random() < 0.85 else "Neutral"
        return Outcome("agent_hangup", ring, talk, True, sentiment)
    sentiment = "Negative" if rng.random() < 0.4 else "Neutral"
    return Outcome("user_hangup", ring, talk, False, sentiment)


def forced_outcome(rng: random.Random, model: OutcomeModel, order: ForcedOutcome) -> Outcome:
    """The outcome a test ordered for a number; unspecified parts are drawn as usual."""
    reason = order.disconnection_reason
    connects = status_for_reason(reason) == "ended"
    ring = _ring_ms(rng, model, "answered" if connects else reason)
    if order.duration_ms is not None:
        talk = order.duration_ms if connects else 0
    elif connects:
        median = model.voicemail_median_s if reason == "voicemail_reached" else 60.0
        talk = _lognormal_ms(rng, median, 0.3)
    else:
        talk = 0
    successful = order.call_successful
    if successful is None:
        successful = connects and reason in ("agent_hangup", "user_hangup", "call_transfer")
    sentiment = order.user_sentiment or _default_sentiment(reason, successful)
    return Outcome(reason, ring, talk, successful, sentiment, order.custom_analysis_data)


def _default_sentiment(reason: str, successful: bool) -> Sentiment:
    if status_for_reason(reason) != "ended" or reason == "voicemail_reached":
        return "Unknown"
    if reason == "user_requested_dnc":
        return "Negative"
    return "Positive" if successful else "Neutral"


def _ring_ms(rng: random.Random, model: OutcomeModel, reason: str) -> int:
    if reason == "answered":
        low, high = model.ring_answer_s
        return round(rng.uniform(low, high) * 1000)
    if reason == "dial_no_answer":
        return round(model.ring_no_answer_s * 1000)
    if reason == "dial_busy":
        return round(rng.uniform(2.0, 6.0) * 1000)
    if reason == "user_declined":
        return round(rng.uniform(5.0, 15.0) * 1000)
    return round(rng.uniform(0.5, 2.0) * 1000)


def _lognormal_ms(rng: random.Random, median_s: float, sigma: float) -> int:
    seconds = rng.lognormvariate(math.log(median_s), sigma)
    return max(1000, round(seconds * 1000))
