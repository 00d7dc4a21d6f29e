"""The headline figures of a report as typed models: `Headline` is what summary.json holds.

    headline.funnel.connected                   # contacts of which a call was answered
    headline.cost.per_successful_contact_cents  # None until a contact succeeds
    headline.model_dump(mode="json")            # summary.json, key for key

Rates are fractions (0..1), costs cents (Retell's `combined_cost`), durations seconds; a figure with
no denominator yet is None. docs/reports.md lists every key. `campaigner.reports.figures` computes
them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, PlainSerializer, model_serializer, model_validator

from campaigner.outcomes import ResultGroup
from campaigner.reports.stats import Interval
from campaigner.store import CampaignStatus

__all__ = [
    "ABTest",
    "AttemptCounts",
    "Comparison",
    "Cost",
    "Durations",
    "Funnel",
    "Headline",
    "HourRow",
    "Rate",
    "Standing",
    "Suppressed",
    "TimezoneRow",
    "VariantArm",
]


class _Figures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Funnel(_Figures):
    """Contacts, and those of them dialed, connected and successful (by any of their calls)."""

    contacts: int
    dialed: int
    connected: int
    successful: int


class Suppressed(_Figures):
    """Numbers kept from calls by the do-not-call list."""

    at_import: int
    """Input rows rejected as on the list."""
    before_dialing: int
    """Contacts whose number was listed before any call."""


class AttemptCounts(_Figures):
    """Call attempts: all, those Retell placed, those connected, and each outcome class's."""

    total: int
    placed: int
    connected: int
    by_outcome: dict[str, int]


class Cost(_Figures):
    """Call cost in cents, in all and per placed call, connected and successful contact."""

    total_cents: float
    per_call_cents: float | None
    per_connected_contact_cents: float | None
    per_successful_contact_cents: float | None


class Durations(_Figures):
    """Call duration in seconds: all calls', and the mean and median of connected calls."""

    total_s: float
    mean_connected_call_s: float | None
    median_connected_call_s: float | None


class HourRow(_Figures):
    """Placed calls started at one hour of the recipient's day, and how many of each group.

    In JSON the groups are keys of the row beside `hour` and `calls`
    (`{"hour": 9, "calls": 12, "successful": 4, ...}`), as a spreadsheet row would have them.
    """

    hour: int
    calls: int
    by_group: dict[ResultGroup, int]

    @model_serializer(mode="plain")
    def _flat(self) -> dict[str, int]:
        counts = {group.value: count for group, count in self.by_group.items()}
        return {"hour": self.hour, "calls": self.calls, **counts}

    @model_validator(mode="before")
    @classmethod
    def _from_flat(cls, data: Any) -> Any:
        if isinstance(data, dict) and "by_group" not in data:
            groups = {key: value for key, value in data.items() if key not in {"hour", "calls"}}
            return {"hour": data.get("hour"), "calls": data.get("calls"), "by_group": groups}
        return data


class TimezoneRow(_Figures):
    """The funnel of the contacts of one time zone (a `|`-separated set for ambiguous numbers)."""

    timezone: str
    contacts: int
    dialed: int
    connected: int
    successful: int


class VariantArm(_Figures):
    """One A/B variant: its contacts, connect and success rates per dialed contact, with their
    95 % Wilson intervals (None while none was dialed)."""

    variant: str
    contacts: int
    dialed: int
    connected: int
    connect_rate: float | None
    connect_rate_ci95: Interval | None
    successful: int
    success_rate: float | None
    success_rate_ci95: Interval | None


Rate = Literal["connect_rate", "success_rate"]
"""The two rates the A/B test compares: connected and successful contacts per dialed one."""


class Comparison(_Figures):
    """One rate of a variant against the control's; the test's figures are None without enough
    data."""

    metric: Rate
    variant: str
    control: str
    enough_data: bool
    difference: float | None
    z: float | None
    p_value: float | None
    significant: bool | None
    provisional: bool
    """Contacts remain to be called (`Standing.final` is false): the verdict may still change."""


class ABTest(_Figures):
    """The variants, and each against the control (the campaign file's first variant)."""

    control: str
    variants: list[VariantArm]
    comparisons: list[Comparison]
    significance_level: float


IsoTime = Annotated[
    datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")
]


class Standing(_Figures):
    """Where the campaign stands when the report is made: its status (and why, when paused or
    cancelled), its settings in words, and the contacts still to be called."""

    status: CampaignStatus
    status_reason: str | None
    description: str
    window: str
    """When calls may start, in words."""
    retries: list[str]
    """The attempts cap, then each outcome class's retry rule, in words."""
    pending: int
    """Contacts not called yet."""
    waiting_retry: int
    """Contacts waiting for a retry."""
    in_call: int
    """Contacts in a call now."""
    next_due_at: IsoTime | None
    """The earliest time a waiting contact is due (the calling window may hold it later); None
    when none waits."""
    final: bool
    """No contact remains to be called: every figure is final."""


class Headline(_Figures):
    """Every figure of a campaign's report (docs/reports.md, summary.json)."""

    campaign: str
    config_sha256: str
    generated_at: IsoTime
    numbers_masked: bool
    standing: Standing
    input_rows: int
    rejected: int
    rejected_by_reason: dict[str, int]
    funnel: Funnel
    results: dict[ResultGroup, int]
    """Contacts by result group, in the order of their counts."""
    outcomes: dict[str, int]
    """Contacts by exact result."""
    suppressed: Suppressed
    attempts: AttemptCounts
    cost: Cost
    duration: Durations
    sentiment: dict[str, int]
    """Connected calls by `user_sentiment`."""
    by_local_hour: list[HourRow]
    by_timezone: list[TimezoneRow]
    ab_test: ABTest
