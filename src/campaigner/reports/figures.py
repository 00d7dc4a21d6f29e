"""The headline figures of a campaign: funnel, results, cost, breakdowns, the A/B comparison.

`headline(data)` is what `summary.json` holds and what the HTML report shows; every figure is a
plain number, string, list or dict, so it serialises as JSON unchanged. Rates are fractions (0..1),
costs are in cents (Retell's `combined_cost`), durations in seconds.

The unit of the funnel and of the A/B comparison is the contact: a contact is dialed, connected or
successful when any of its attempts was. The A/B rates are per dialed contact, compared with the
first variant of the campaign file (the control) by `campaigner.reports.stats`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from campaigner.outcomes import OUTCOMES, ResultGroup
from campaigner.reports.errors import ReportError
from campaigner.reports.frames import IN_PROGRESS, NOT_DIALED, CampaignData
from campaigner.reports.stats import (
    enough_data,
    two_proportion_test,
    wilson_interval,
)
from campaigner.store import ContactStatus, utcnow

__all__ = ["RESULT_GROUPS", "SIGNIFICANCE_LEVEL", "ab_comparison", "headline", "result_group"]

SIGNIFICANCE_LEVEL = 0.05
"""A difference is reported as significant when its p-value is below this."""

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


def headline(data: CampaignData) -> dict[str, Any]:
    """Every figure of the report, JSON-ready."""
    contacts, attempts, rejected = data.contacts, data.attempts, data.rejected
    rejected_reasons = _counts(rejected["reason"])
    placed = attempts[attempts["placed"]]
    connected_calls = attempts[attempts["connected"]]
    total_cost = float(attempts["cost_cents"].sum())
    funnel = {
        "contacts": len(contacts),
        "dialed": int(contacts["dialed"].sum()),
        "connected": int(contacts["connected"].sum()),
        "successful": int(contacts["successful"].sum()),
    }
    return {
        "campaign": data.name,
        "config_sha256": data.config_sha256,
        "generated_at": utcnow().isoformat(),
        "numbers_masked": data.mask_numbers,
        "input_rows": data.input_rows,
        "rejected": len(rejected),
        "rejected_by_reason": rejected_reasons,
        "funnel": funnel,
        "results": _counts(result_group(contacts["result"])),
        "outcomes": _counts(contacts["result"]),
        "suppressed": {
            "at_import": rejected_reasons.get(ContactStatus.SUPPRESSED.value, 0),
            "before_dialing": int((contacts["result"] == ContactStatus.SUPPRESSED).sum()),
        },
        "attempts": {
            "total": len(attempts),
            "placed": len(placed),
            "connected": len(connected_calls),
            "by_outcome": _counts(attempts["outcome_class"]),
        },
        "cost": {
            "total_cents": round(total_cost, 4),
            "per_call_cents": _ratio(total_cost, len(placed)),
            "per_connected_contact_cents": _ratio(total_cost, funnel["connected"]),
            "per_successful_contact_cents": _ratio(total_cost, funnel["successful"]),
        },
        "duration": {
            "total_s": round(float(attempts["duration_ms"].sum()) / 1000, 3),
            "mean_connected_call_s": _mean_seconds(connected_calls["duration_ms"]),
            "median_connected_call_s": _median_seconds(connected_calls["duration_ms"]),
        },
        "sentiment": _counts(connected_calls["user_sentiment"]),
        "by_local_hour": _by_local_hour(attempts),
        "by_timezone": _by_timezone(contacts),
        "ab_test": ab_comparison(data),
    }


def ab_comparison(data: CampaignData) -> dict[str, Any]:
    """Connect and success rates per variant with 95 % Wilson intervals, and each variant against
    the control (the first) with a two-proportion z test, or `enough_data: false`."""
    contacts = data.contacts
    present = contacts["variant"].dropna().unique().tolist()
    names = [*data.variants, *sorted(set(present) - set(data.variants))]
    arms = [_arm(name, contacts[contacts["variant"] == name]) for name in names]
    comparisons = [
        _compare(arms[0], arm, metric) for arm in arms[1:] for metric in ("connected", "successful")
    ]
    return {
        "control": names[0],
        "variants": arms,
        "comparisons": comparisons,
        "significance_level": SIGNIFICANCE_LEVEL,
    }


def _arm(name: str, contacts: pd.DataFrame) -> dict[str, Any]:
    dialed = int(contacts["dialed"].sum())
    arm: dict[str, Any] = {"variant": name, "contacts": len(contacts), "dialed": dialed}
    for metric, rate in (("connected", "connect_rate"), ("successful", "success_rate")):
        count = int(contacts[metric].sum())
        interval = wilson_interval(count, dialed)
        arm[metric] = count
        arm[rate] = count / dialed if dialed else None
        arm[f"{rate}_ci95"] = [interval.low, interval.high] if dialed else None
    return arm


def _compare(control: dict[str, Any], arm: dict[str, Any], metric: str) -> dict[str, Any]:
    counts = (arm[metric], arm["dialed"], control[metric], control["dialed"])
    comparison: dict[str, Any] = {
        "metric": "connect_rate" if metric == "connected" else "success_rate",
        "variant": arm["variant"],
        "control": control["variant"],
        "enough_data": enough_data(*counts),
        "difference": None,
        "z": None,
        "p_value": None,
        "significant": None,
    }
    if comparison["enough_data"]:
        test = two_proportion_test(*counts)
        comparison |= {
            "difference": counts[0] / counts[1] - counts[2] / counts[3],
            "z": test.z,
            "p_value": test.p_value,
            "significant": test.p_value < SIGNIFICANCE_LEVEL,
        }
    return comparison


def _by_local_hour(attempts: pd.DataFrame) -> list[dict[str, Any]]:
    placed = attempts[attempts["placed"] & attempts["local_hour"].notna()]
    groups = result_group(placed["outcome_class"])
    table = pd.crosstab(placed["local_hour"].astype(int), groups)
    return [
        {"hour": int(hour), "calls": sum(row.values()), **{str(k): v for k, v in row.items()}}
        for hour, row in zip(table.index.tolist(), _int_records(table), strict=True)
    ]


def _by_timezone(contacts: pd.DataFrame) -> list[dict[str, Any]]:
    table = contacts.groupby("timezone_key", dropna=False).agg(
        contacts=("contact_id", "size"),
        dialed=("dialed", "sum"),
        connected=("connected", "sum"),
        successful=("successful", "sum"),
    )
    table = table.sort_values("contacts", ascending=False)
    return [
        {"timezone": str(zone), **row}
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
