"""The headline figures of a campaign: funnel, results, cost, breakdowns, the A/B comparison.

`headline(data)` is the `Headline` (`campaigner.reports.headline`) that `summary.json` holds and the
HTML report shows. Rates are fractions (0..1), costs are in cents (Retell's `combined_cost`),
durations in seconds.

The unit of the funnel and of the A/B comparison is the contact: a contact is dialed, connected or
successful when any of its attempts was. The A/B rates are per dialed contact, compared with the
first variant of the campaign file (the control) by `campaigner.reports.stats`.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from campaigner.outcomes import OUTCOMES, ResultGroup
from campaigner.reports.errors import ReportError
from campaigner.reports.frames import IN_PROGRESS, NOT_DIALED, CampaignData
from campaigner.reports.headline import (
    ABTest,
    AttemptCounts,
    Comparison,
    Cost,
    Durations,
    Funnel,
    Headline,
    HourRow,
    Rate,
    Suppressed,
    TimezoneRow,
    VariantArm,
)
from campaigner.reports.standing import standing
from campaigner.reports.stats import (
    enough_data,
    two_proportion_test,
    wilson_interval,
)
from campaigner.store import ContactStatus, utcnow

__all__ = ["RESULT_GROUPS", "SIGNIFICANCE_LEVEL", "ab_comparison", "headline", "result_group"]

SIGNIFICANCE_LEVEL = 0.05
"""A difference is reported as significant when its p-value is below this."""

_RATES: tuple[Rate, ...] = ("connect_rate", "success_rate")

RESULT_GROUPS: Mapping[str, str] = {
    **{outcome.value: traits.group.value for outcome, traits in OUTCOMES.items()},
    ContactStatus.SUPPRESSED.value: ResultGroup.SUPPRESSED.value,
    ContactStatus.CANCELLED.value: ResultGroup.CANCELLED.value,
    NOT_DIALED: ResultGroup.NOT_DIALED.value,
    IN_PROGRESS: ResultGroup.IN_PROGRESS.value,
}
"""The group each result (and attempt outcome) is counted in by the funnel and the charts: an
outcome class's is its row of `campaigner.outcomes.OUTCOMES`."""


def result_group(results: pd.Series) -> pd.Series:
    """The group of each result or outcome (a missing outcome: a call still in progress).

    A result with no group is a `ReportError`: counted as anything, it would be counted wrong.
    """
    groups = results.map(RESULT_GROUPS)
    unknown = results.notna() & groups.isna()
    if unknown.any():
        names = ", ".join(sorted(set(results[unknown].astype(str))))
        raise ReportError(f"no report group for the result {names}: campaigner does not know it")
    return groups.fillna(ResultGroup.IN_PROGRESS.value).astype("string")


def headline(data: CampaignData) -> Headline:
    """Every figure of the report."""
    contacts, attempts, rejected = data.contacts, data.attempts, data.rejected
    rejected_reasons = _counts(rejected["reason"])
    connected_calls = attempts[attempts["connected"]]
    funnel = _funnel(contacts)
    where = standing(data)
    return Headline(
        campaign=data.name,
        config_sha256=data.config_sha256,
        generated_at=utcnow(),
        numbers_masked=data.mask_numbers,
        standing=where,
        input_rows=data.input_rows,
        rejected=len(rejected),
        rejected_by_reason=rejected_reasons,
        funnel=funnel,
        results=_counts(result_group(contacts["result"])),
        outcomes=_counts(contacts["result"]),
        suppressed=Suppressed(
            at_import=rejected_reasons.get(ContactStatus.SUPPRESSED.value, 0),
            before_dialing=int((contacts["result"] == ContactStatus.SUPPRESSED).sum()),
        ),
        attempts=AttemptCounts(
            total=len(attempts),
            placed=int(attempts["placed"].sum()),
            connected=len(connected_calls),
            by_outcome=_counts(attempts["outcome_class"]),
        ),
        cost=_cost(attempts, funnel),
        duration=Durations(
            total_s=round(float(attempts["duration_ms"].sum()) / 1000, 3),
            mean_connected_call_s=_mean_seconds(connected_calls["duration_ms"]),
            median_connected_call_s=_median_seconds(connected_calls["duration_ms"]),
        ),
        sentiment=_counts(connected_calls["user_sentiment"]),
        by_local_hour=_by_local_hour(attempts),
        by_timezone=_by_timezone(contacts),
        ab_test=ab_comparison(data, provisional=not where.final),
    )


def _funnel(contacts: pd.DataFrame) -> Funnel:
    return Funnel(
        contacts=len(contacts),
        dialed=int(contacts["dialed"].sum()),
        connected=int(contacts["connected"].sum()),
        successful=int(contacts["successful"].sum()),
    )


def _cost(attempts: pd.DataFrame, funnel: Funnel) -> Cost:
    total = float(attempts["cost_cents"].sum())
    return Cost(
        total_cents=round(total, 4),
        per_call_cents=_ratio(total, int(attempts["placed"].sum())),
        per_connected_contact_cents=_ratio(total, funnel.connected),
        per_successful_contact_cents=_ratio(total, funnel.successful),
    )


def ab_comparison(data: CampaignData, *, provisional: bool) -> ABTest:
    """Connect and success rates per variant with 95 % Wilson intervals, and each variant against
    the control (the first) with a two-proportion z test, or `enough_data: false`; each verdict
    `provisional` while contacts remain to be called."""
    contacts = data.contacts
    present = contacts["variant"].dropna().unique().tolist()
    names = [*data.variants, *sorted(set(present) - set(data.variants))]
    arms = [_arm(name, contacts[contacts["variant"] == name]) for name in names]
    comparisons = [
        _compare(arms[0], arm, metric, provisional=provisional)
        for arm in arms[1:]
        for metric in _RATES
    ]
    return ABTest(
        control=names[0],
        variants=arms,
        comparisons=comparisons,
        significance_level=SIGNIFICANCE_LEVEL,
    )


def _arm(name: str, contacts: pd.DataFrame) -> VariantArm:
    dialed = int(contacts["dialed"].sum())
    connected = int(contacts["connected"].sum())
    successful = int(contacts["successful"].sum())
    return VariantArm(
        variant=name,
        contacts=len(contacts),
        dialed=dialed,
        connected=connected,
        connect_rate=connected / dialed if dialed else None,
        connect_rate_ci95=wilson_interval(connected, dialed) if dialed else None,
        successful=successful,
        success_rate=successful / dialed if dialed else None,
        success_rate_ci95=wilson_interval(successful, dialed) if dialed else None,
    )


def _compare(
    control: VariantArm, arm: VariantArm, metric: Rate, *, provisional: bool
) -> Comparison:
    counts = (*_trials(arm, metric), *_trials(control, metric))
    tested = enough_data(*counts)
    test = two_proportion_test(*counts) if tested else None
    return Comparison(
        metric=metric,
        variant=arm.variant,
        control=control.variant,
        enough_data=tested,
        difference=counts[0] / counts[1] - counts[2] / counts[3] if test is not None else None,
        z=test.z if test is not None else None,
        p_value=test.p_value if test is not None else None,
        significant=test.p_value < SIGNIFICANCE_LEVEL if test is not None else None,
        provisional=provisional,
    )


def _trials(arm: VariantArm, metric: Rate) -> tuple[int, int]:
    """The successes and trials of one rate of a variant: connected or successful of dialed."""
    return (arm.connected if metric == "connect_rate" else arm.successful), arm.dialed


def _by_local_hour(attempts: pd.DataFrame) -> list[HourRow]:
    placed = attempts[attempts["placed"] & attempts["local_hour"].notna()]
    groups = result_group(placed["outcome_class"])
    table = pd.crosstab(placed["local_hour"].astype(int), groups)
    return [
        HourRow(hour=int(hour), calls=sum(row.values()), by_group=row)
        for hour, row in zip(table.index.tolist(), _int_records(table), strict=True)
    ]


def _by_timezone(contacts: pd.DataFrame) -> list[TimezoneRow]:
    table = contacts.groupby("timezone_key", dropna=False).agg(
        contacts=("contact_id", "size"),
        dialed=("dialed", "sum"),
        connected=("connected", "sum"),
        successful=("successful", "sum"),
    )
    table = table.sort_values("contacts", ascending=False)
    return [
        TimezoneRow(timezone=str(zone), **row)
        for zone, row in zip(table.index.tolist(), _int_records(table), strict=True)
    ]


def _int_records(table: pd.DataFrame) -> list[dict[str, int]]:
    return [{str(k): int(v) for k, v in row.items()} for row in table.to_dict("records")]


def _counts(values: pd.Series) -> dict[str, int]:
    counts = values.dropna().astype(str).value_counts()
    return {str(key): int(count) for key, count in counts.items()}


def _ratio(total: float, count: int) -> float | None:
    return round(total / count, 4) if count else None


def _mean_seconds(durations_ms: pd.Series) -> float | None:
    return None if durations_ms.dropna().empty else round(float(durations_ms.mean()) / 1000, 3)


def _median_seconds(durations_ms: pd.Series) -> float | None:
    return None if durations_ms.dropna().empty else round(float(durations_ms.median()) / 1000, 3)
