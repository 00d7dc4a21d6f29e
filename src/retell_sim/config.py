"""Simulator configuration.

Every behaviour of Retell's API that the available sources leave open (retell-api.md §13) is a
field here, so the orchestrator can be tested against each variant. The simulator reads its own
environment (``RETELL_API_KEY``) and never imports campaigner's settings: it stands in for Retell,
it is not part of the orchestrator.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from retell_sim.faults import parse_faults

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_API_KEY",
    "OutOfCreditReason",
    "OutcomeModel",
    "SimulatorConfig",
    "TrunkFailure",
    "resolve_api_key",
]

API_KEY_ENV = "RETELL_API_KEY"
DEFAULT_API_KEY = "key_campaigner_simulator"


def resolve_api_key(explicit: str | None = None) -> tuple[str, str]:
    """The API key and where it came from: the argument, ``RETELL_API_KEY``, or the default."""
    if explicit:
        return explicit, "--api-key"
    from_env = os.environ.get(API_KEY_ENV, "").strip()
    if from_env:
        return from_env, API_KEY_ENV
    return DEFAULT_API_KEY, "default"


def _key_from_environment() -> SecretStr:
    return SecretStr(resolve_api_key()[0])


class OutcomeModel(BaseModel):
    """The seeded model that decides how each simulated call ends.

    The ``*_rate`` fields are shares of all dialed calls; what is left answers (a person picks up).
    Among answered calls ``dnc_rate`` ask not to be called again and ``callback_rate`` ask for a
    callback; the remaining conversations succeed with ``success_rate`` (per agent when
    ``success_rate_by_agent`` names it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    invalid_destination_rate: float = Field(0.01, ge=0, le=1)
    dial_failed_rate: float = Field(0.02, ge=0, le=1)
    busy_rate: float = Field(0.06, ge=0, le=1)
    declined_rate: float = Field(0.03, ge=0, le=1)
    no_answer_rate: float = Field(0.20, ge=0, le=1)
    voicemail_rate: float = Field(0.15, ge=0, le=1)
    dnc_rate: float = Field(0.03, ge=0, le=1)
    callback_rate: float = Field(0.07, ge=0, le=1)
    success_rate: float = Field(0.55, ge=0, le=1)
    success_rate_by_agent: dict[str, float] = Field(default_factory=dict)
    conversation_median_s: float = Field(90.0, gt=0)
    conversation_sigma: float = Field(0.45, ge=0)
    voicemail_median_s: float = Field(22.0, gt=0)
    ring_answer_s: tuple[float, float] = (3.0, 12.0)
    ring_no_answer_s: float = Field(30.0, gt=0)
    # Added to every connected call's collected_dynamic_variables. The SDK types that field
    # Dict[str, str], but what Retell collects during a call is not documented to be text: values
    # here may be any JSON, to test clients against numbers, booleans or objects there.
    collected_variables: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shares_fit(self) -> OutcomeModel:
        if self.answer_rate < -1e-9:
            raise ValueError(
                "outcome rates for unanswered calls and voicemail add up to more than 1"
            )
        if self.dnc_rate + self.callback_rate > 1 + 1e-9:
            raise ValueError("dnc_rate + callback_rate add up to more than 1")
        low, high = self.ring_answer_s
        if not 0 <= low <= high:
            raise ValueError("ring_answer_s must be (low, high) with 0 <= low <= high")
        return self

    @classmethod
    def everyone_answers(cls, **fields: Any) -> OutcomeModel:
        """A model where every call is answered and becomes a conversation (for load and timing
        tests); `fields` set the call lengths and anything else."""
        unanswered = (
            "invalid_destination_rate",
            "dial_failed_rate",
            "busy_rate",
            "declined_rate",
            "no_answer_rate",
            "voicemail_rate",
            "dnc_rate",
            "callback_rate",
        )
        return cls.model_validate({**dict.fromkeys(unanswered, 0.0), **fields})

    @property
    def answer_rate(self) -> float:
        """Share of dialed calls a person answers."""
        return 1.0 - (
            self.invalid_destination_rate
            + self.dial_failed_rate
            + self.busy_rate
            + self.declined_rate
            + self.no_answer_rate
            + self.voicemail_rate
        )

    def success_rate_for(self, agent_id: str) -> float:
        """The success rate of conversations held by ``agent_id``."""
        return self.success_rate_by_agent.get(agent_id, self.success_rate)


# Trunk-level reasons a call fails with before it connects (docs.retellai.com/reliability/
# debug-call-disconnect): trunk credentials refused, provider outage, a SIP routing loop, a caller
# ID marked as spam; dial_failed is what a carrier's block of a spam-flagged number shows as.
TrunkFailure = Literal[
    "telephony_provider_permission_denied",
    "telephony_provider_unavailable",
    "sip_routing_error",
    "marked_as_spam",
    "dial_failed",
]
OutOfCreditReason = Literal["credit_exhausted", "no_valid_payment"]


class SimulatorConfig(BaseModel):
    """Everything the simulator can be told at start.

    Defaults follow Retell's documented behaviour; where Retell's behaviour is unknown the default
    is the documented or most plausible variant and the alternative is one field away.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr = Field(default_factory=_key_from_environment)
    speed: float = Field(1.0, ge=0, description="virtual seconds per real second; 0 = manual clock")
    start_ms: int | None = Field(None, description="virtual epoch ms at start; None = real now")
    seed: int = 0
    concurrency_limit: int = Field(20, ge=1)
    reserved_inbound_concurrency: int = Field(0, ge=0)
    concurrency_burst_enabled: bool = False
    concurrency_exhausted: Literal["error_call", "429"] = "error_call"
    cps: float = Field(1.0, gt=0, description="outbound calls per virtual second, per workspace")
    cps_exceeded: Literal["429", "queue"] = "429"
    rate_limit: float | None = Field(None, gt=0, description="API requests per real second per key")
    retry_after_headers: bool = True
    not_found_status: Literal[404, 422] = 422
    dynamic_variables: Literal["reject", "coerce"] = "reject"
    idempotency_conflict: Literal["return_original", "reject"] = "return_original"
    idempotency_window_s: float = Field(3600.0, gt=0)
    # Retell documents `honor_internal_dnc` (default false) on create-phone-call only; whether a
    # batch task to a number on the internal do-not-call list is refused is not documented.
    batch_internal_dnc: Literal["dial", "refuse"] = "dial"
    account_webhook_url: str | None = None
    # Retell signs webhooks with the key that has the webhook badge in the dashboard, which need not
    # be the key API calls use (docs.retellai.com/features/secure-webhook). None: the API key.
    webhook_api_key: SecretStr | None = None
    webhook_retries: int = Field(3, ge=0)
    webhook_retry_backoff_s: float = Field(1.0, ge=0)
    analysis_delay_s: float = Field(3.0, ge=0)
    faults: str = "none"
    trunk_failure: TrunkFailure | None = Field(
        None, description="every call placed ends at once with this reason"
    )
    credit_calls: int | None = Field(
        None, ge=0, description="calls the account's credit pays for; None = no limit"
    )
    out_of_credit_reason: OutOfCreditReason = "credit_exhausted"
    # Whether Retell's not_connected / error calls carry end_timestamp is not documented
    # (retell-api.md, "What real Retell does"): which timestamps batch calls that never connected
    # keep.
    batch_failure_timestamps: Literal["start_and_end", "start_only", "end_only", "none"] = (
        "start_and_end"
    )
    empty: bool = False
    outcomes: OutcomeModel = Field(default_factory=OutcomeModel)

    @property
    def webhook_key(self) -> str:
        """The key webhooks are signed with."""
        return (self.webhook_api_key or self.api_key).get_secret_value()

    @field_validator("faults")
    @classmethod
    def _faults_parse(cls, value: str) -> str:
        parse_faults(value)
        return value

    @model_validator(mode="after")
    def _reserve_fits(self) -> SimulatorConfig:
        if self.reserved_inbound_concurrency >= self.concurrency_limit:
            raise ValueError(
                "reserved_inbound_concurrency must be below concurrency_limit "
                f"({self.reserved_inbound_concurrency} >= {self.concurrency_limit})"
            )
        return self
