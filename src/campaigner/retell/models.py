"""Pydantic models of what the client reads from Retell.

They follow retell-sdk 6.2.13's `types/` for names and shapes, but are deliberately tolerant:
unknown fields are kept (`extra="allow"`), enumerations Retell may extend (`call_status`,
`disconnection_reason`, `user_sentiment`) are plain strings, so a new value on Retell's side never
breaks a running campaign, and `metadata` and the dynamic variables take any JSON values. What
cannot be true of a call is refused here instead (ids longer than any of Retell's, timestamps
outside the years the store and reports can hold, negative durations), so it never reaches them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "TERMINAL_CALL_STATUSES",
    "Agent",
    "AgentSummary",
    "AgentVersion",
    "AgentWeight",
    "ApiKeyInfo",
    "BatchCall",
    "BatchCallTask",
    "Call",
    "CallAnalysis",
    "CallCost",
    "CallPage",
    "CallTimeWindow",
    "Concurrency",
    "EpochMs",
    "JSONValue",
    "Latency",
    "LatencyStats",
    "PhoneNumber",
    "ProductCost",
    "RetellId",
    "RetellLLM",
    "TimeWindow",
    "Voice",
    "WebCall",
    "epoch_ms_to_datetime",
    "loggable_call_id",
    "validation_problems",
]

TERMINAL_CALL_STATUSES = frozenset({"ended", "not_connected", "error"})

MAX_ID_LENGTH = 100
"""Retell's ids are some 30 characters; the store's id columns hold 100 (`retell_call_id`,
`retell_batch_id`), so a longer one is not Retell's and is refused before it could reach them."""
MAX_EPOCH_MS = int(datetime(2200, 1, 1, tzinfo=UTC).timestamp() * 1000)
"""Timestamps and durations end before 2200: the reports read them into pandas, whose nanosecond
datetimes end in April 2262, and a call of Retell's is not dated centuries ahead."""

RetellId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
EpochMs = Annotated[int, Field(ge=0, le=MAX_EPOCH_MS)]
"""Epoch milliseconds, or a duration in milliseconds: never negative, never past 2200."""
AgentVersion = Annotated[int, Field(ge=0, le=2**31 - 1)]
"""An agent's version: the store keeps a call's in a 32-bit INTEGER column."""
JSONValue = Any
"""Any JSON value: what the SDK types as `object`, and what campaigner reads without assuming
strings (`metadata` values, dynamic variables)."""


def epoch_ms_to_datetime(value: int | float | None) -> datetime | None:
    """Retell's epoch milliseconds as an aware UTC datetime."""
    if value is None:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def validation_problems(error: ValidationError) -> str:
    """Where and why a payload failed validation (`end_timestamp: less_than_equal`), without
    the values: they may be a person's data."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'])}: {problem['type']}"
        for problem in error.errors(include_url=False, include_input=False)
    )


def loggable_call_id(payload: object) -> str:
    """A payload's `call_id` fit for a log line: as it is when it could be Retell's, else a
    placeholder (an oversized or non-text id says nothing and would flood the log)."""
    call_id = payload.get("call_id") if isinstance(payload, dict) else None
    if isinstance(call_id, str) and 0 < len(call_id) <= MAX_ID_LENGTH and call_id.isprintable():
        return call_id
    return "(no readable call_id)"


class RetellModel(BaseModel):
    """Base of every response model: keeps unknown fields instead of failing on them."""

    model_config = ConfigDict(extra="allow")


class CallAnalysis(RetellModel):
    call_summary: str | None = None
    in_voicemail: bool | None = None
    user_sentiment: str | None = None
    call_successful: bool | None = None
    custom_analysis_data: dict[str, Any] | None = None


class ProductCost(RetellModel):
    product: str
    cost: float
    unit_price: float | None = None
    is_transfer_leg_cost: bool | None = None


class CallCost(RetellModel):
    """Cost of one call, in cents."""

    combined_cost: float
    product_costs: list[ProductCost] = Field(default_factory=list)
    total_duration_seconds: float | None = None
    total_duration_unit_price: float | None = None


class LatencyStats(RetellModel):
    p50: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None
    min: float | None = None
    num: float | None = None
    values: list[float] | None = None


class Latency(RetellModel):
    e2e: LatencyStats | None = None
    asr: LatencyStats | None = None
    llm: LatencyStats | None = None
    llm_websocket_network_rtt: LatencyStats | None = None
    tts: LatencyStats | None = None
    knowledge_base: LatencyStats | None = None
    s2s: LatencyStats | None = None


class Call(RetellModel):
    """A phone or web call as get-call, list-calls and webhooks return it."""

    call_id: RetellId
    call_type: str = "phone_call"
    call_status: str
    agent_id: str | None = None
    agent_version: AgentVersion | None = None
    agent_name: str | None = None
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    # The SDK types `metadata` as `object`: any JSON, not only an object of strings.
    metadata: JSONValue = None
    retell_llm_dynamic_variables: dict[str, JSONValue] | None = None
    collected_dynamic_variables: dict[str, JSONValue] | None = None
    start_timestamp: EpochMs | None = None
    end_timestamp: EpochMs | None = None
    duration_ms: EpochMs | None = None
    disconnection_reason: str | None = None
    call_analysis: CallAnalysis | None = None
    call_cost: CallCost | None = None
    latency: Latency | None = None
    transcript: str | None = None
    recording_url: str | None = None
    public_log_url: str | None = None
    access_token: str | None = None

    def metadata_value(self, key: str) -> JSONValue:
        """The value of a top-level `metadata` key, or None (also when `metadata` is not an
        object): campaigner finds its own keys here whatever else the metadata holds."""
        return self.metadata.get(key) if isinstance(self.metadata, dict) else None

    @property
    def is_terminal(self) -> bool:
        """True once the call has ended, failed to connect, or errored."""
        return self.call_status in TERMINAL_CALL_STATUSES

    @property
    def started_at(self) -> datetime | None:
        return epoch_ms_to_datetime(self.start_timestamp)

    @property
    def ended_at(self) -> datetime | None:
        return epoch_ms_to_datetime(self.end_timestamp)


class CallPage(RetellModel):
    """One page of `POST /v3/list-calls`."""

    items: list[Call]
    has_more: bool = False
    pagination_key: str | None = None
    total: int | None = None


class Concurrency(RetellModel):
    """`GET /get-concurrency`: the workspace's limits and live usage."""

    current_concurrency: int | None = None
    concurrency_limit: int | None = None
    base_concurrency: int | None = None
    purchased_concurrency: int | None = None
    concurrency_purchase_limit: int | None = None
    remaining_purchase_limit: int | None = None
    concurrency_burst_enabled: bool | None = None
    concurrency_burst_limit: int | None = None
    reserved_inbound_concurrency: int | None = None

    @property
    def outbound_capacity(self) -> int | None:
        """Slots outbound calls may use at all: the limit less what is reserved for inbound."""
        if self.concurrency_limit is None:
            return None
        return max(0, self.concurrency_limit - (self.reserved_inbound_concurrency or 0))

    @property
    def free_outbound_slots(self) -> int | None:
        """Outbound slots free right now (calls in progress of any kind count against them)."""
        capacity = self.outbound_capacity
        if capacity is None:
            return None
        return max(0, capacity - (self.current_concurrency or 0))


class TimeWindow(BaseModel):
    """Half-open local-time window in minutes since midnight."""

    start: int = Field(ge=0, le=1440)
    end: int = Field(ge=0, le=1440)


class CallTimeWindow(BaseModel):
    windows: list[TimeWindow]
    timezone: str | None = None
    day: list[str] | None = None


class BatchCallTask(BaseModel):
    """One task of a batch call: one outbound call."""

    to_number: str
    retell_llm_dynamic_variables: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None
    override_agent_id: str | None = None
    override_agent_version: int | str | None = None


class BatchCall(RetellModel):
    """`POST /create-batch-call` response."""

    batch_call_id: RetellId
    name: str | None = None
    from_number: str | None = None
    scheduled_timestamp: float | None = None
    total_task_count: float | None = None
    call_time_window: CallTimeWindow | None = None


class AgentWeight(RetellModel):
    agent_id: str
    weight: float
    agent_version: int | None = None


class Agent(RetellModel):
    agent_id: str
    version: int | None = None
    agent_name: str | None = None
    response_engine: dict[str, Any] | None = None
    voice_id: str | None = None
    webhook_url: str | None = None
    # None means Retell's default: call_started, call_ended and call_analyzed.
    webhook_events: list[str] | None = None
    post_call_analysis_data: list[dict[str, Any]] | None = None
    is_published: bool | None = None
    last_modification_timestamp: int | None = None


class ApiKeyInfo(RetellModel):
    """`GET /get-api-key-info`: the key's name and the organisation (workspace) that owns it."""

    org_id: str
    org_name: str
    api_key_name: str | None = None


class AgentSummary(RetellModel):
    """An item of `POST /v2/list-agents` (one per agent, not per version)."""

    agent_id: str
    agent_name: str | None = None
    channel: str | None = None


class RetellLLM(RetellModel):
    llm_id: str
    version: int | None = None
    general_prompt: str | None = None
    begin_message: str | None = None
    model: str | None = None
    last_modification_timestamp: int | None = None


class PhoneNumber(RetellModel):
    phone_number: str
    phone_number_type: str | None = None
    phone_number_pretty: str | None = None
    nickname: str | None = None
    area_code: int | None = None
    outbound_agents: list[AgentWeight] | None = None
    inbound_agents: list[AgentWeight] | None = None
    # ISO 3166 alpha-2 codes; None or empty: calls to every country are allowed.
    allowed_outbound_country_list: list[str] | None = None
    last_modification_timestamp: int | None = None


class Voice(RetellModel):
    voice_id: str
    voice_name: str | None = None
    provider: str | None = None
    gender: str | None = None
    accent: str | None = None
    age: str | None = None
    preview_audio_url: str | None = None


class WebCall(RetellModel):
    """`POST /v3/create-web-call` response."""

    call_id: str
    access_token: str
    expires_at: int | None = None
    transport: str | None = None
    ice_servers: list[dict[str, Any]] | None = None
