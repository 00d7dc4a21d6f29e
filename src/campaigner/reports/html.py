"""report.html: one self-contained page a manager can open anywhere, offline.

Styles are inlined from `templates/report.css`, charts are inline SVG (`campaigner.reports.charts`)
and there is no script and no reference to anything outside the file. Every figure comes from
`campaigner.reports.figures.headline`; the two histograms (call duration, call cost) are drawn
from the attempts themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from importlib.resources import files
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from campaigner.outcomes import ResultGroup
from campaigner.reports.charts import Series, bar_rows, columns, interval_rows, one_colour_per_row
from campaigner.reports.frames import CampaignData
from campaigner.reports.headline import Headline
from campaigner.reports.stats import MIN_EXPECTED, MIN_TRIALS

__all__ = ["render_report"]

_HISTOGRAM_BINS = 12
_GROUP_ORDER = [group.value for group in ResultGroup]
_FUNNEL = (
    ("contacts", "Contacts"),
    ("dialed", "Dialed"),
    ("connected", "Connected"),
    ("successful", "Successful"),
)


def render_report(data: CampaignData, headline: Headline) -> str:
    """The whole HTML document."""
    figures = headline.model_dump(mode="json")
    css = files("campaigner.reports").joinpath("templates/report.css").read_text("utf-8")
    sections = [
        _cards(figures),
        _section("Funnel", _funnel(figures)),
        _section("Results by contact", _results(figures)),
        _section("Calls by hour of the recipient's day", _by_hour(figures)),
        _section("By timezone", _by_timezone(figures)),
        _section("Call duration and cost", _distributions(data, figures)),
        _section("Sentiment of connected calls", _sentiment(figures)),
        _section("A/B comparison of agent variants", _ab_test(figures["ab_test"])),
        _section("Rejected input rows", _rejected(figures)),
    ]
    masked = " Phone numbers are masked in the exported files." if figures["numbers_masked"] else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Campaign report: {escape(data.name)}</title><style>{css}</style></head><body>"
        f"<header><h1>Campaign {escape(data.name)}</h1><p>Report generated "
        f"{escape(figures['generated_at'][:19].replace('T', ' '))} UTC · configuration "
        f"{escape(data.config_sha256[:12])}.{masked}</p></header><main>"
        + "".join(sections)
        + "</main></body></html>\n"
    )


def _section(title: str, body: str) -> str:
    return f"<section><h2>{escape(title)}</h2>{body}</section>"


def _cards(figures: dict[str, Any]) -> str:
    funnel, cost = figures["funnel"], figures["cost"]
    cards = [
        ("Input rows", _count(figures["input_rows"])),
        ("Contacts", _count(funnel["contacts"])),
        ("Dialed", _count(funnel["dialed"])),
        ("Connected", _count(funnel["connected"])),
        ("Successful", _count(funnel["successful"])),
        ("Total cost", _dollars(cost["total_cents"])),
        ("Cost per connected contact", _dollars(cost["per_connected_contact_cents"])),
        ("Cost per successful contact", _dollars(cost["per_successful_contact_cents"])),
    ]
    return (
        '<section class="cards">'
        + "".join(
            f'<div class="card"><div class="value">{escape(value)}</div>'
            f'<div class="label">{escape(label)}</div></div>'
            for label, value in cards
        )
        + "</section>"
    )


def _funnel(figures: dict[str, Any]) -> str:
    funnel = figures["funnel"]
    labels = ["Input rows", *(label for _, label in _FUNNEL)]
    values = [figures["input_rows"], *(funnel[key] for key, _ in _FUNNEL)]
    chart = bar_rows("Funnel", labels, [Series("funnel", values)])
    suppressed = figures["suppressed"]
    note = (
        f'<p class="note">Input rows = contacts + {figures["rejected"]} rejected rows. '
        f"Suppressed by the do-not-call list: {suppressed['at_import']} at import, "
        f"{suppressed['before_dialing']} before dialing. Rates: "
        f"connected {_share(funnel['connected'], funnel['dialed'])} of dialed, "
        f"successful {_share(funnel['successful'], funnel['dialed'])} of dialed.</p>"
    )
    return chart + note


def _results(figures: dict[str, Any]) -> str:
    results = figures["results"]
    names = [name for name in _GROUP_ORDER if results.get(name)]
    values = [results[name] for name in names]
    labels = [name.replace("_", " ") for name in names]
    chart = bar_rows("Contacts by result", labels, one_colour_per_row(names, values), legend=False)
    return chart + (
        '<p class="note">Each contact counts once, by its final outcome (or its latest call '
        "while it waits for a retry). No answer includes declined calls; failed includes "
        "invalid numbers, telephony and account errors.</p>"
    )


def _by_hour(figures: dict[str, Any]) -> str:
    rows = {row["hour"]: row for row in figures["by_local_hour"]}
    if not rows:
        return '<p class="note">No calls placed yet.</p>'
    present = {key for row in rows.values() for key in row}
    names = [name for name in _GROUP_ORDER if name in present]
    series = [
        Series(name, [rows.get(hour, {}).get(name, 0) for hour in range(24)]) for name in names
    ]
    labels = [f"{hour:02d}" for hour in range(24)]
    return columns("Calls by local hour and result", labels, series, label_every=2)


def _by_timezone(figures: dict[str, Any]) -> str:
    rows = figures["by_timezone"]
    labels = [row["timezone"].replace("|", " | ") for row in rows]
    series = [
        Series("successful", [row["successful"] for row in rows]),
        Series("connected_unsuccessful", [row["connected"] - row["successful"] for row in rows]),
        Series("no_answer", [row["dialed"] - row["connected"] for row in rows], "not connected"),
        Series("not_dialed", [row["contacts"] - row["dialed"] for row in rows]),
    ]
    chart = bar_rows("Contacts by timezone and result", labels, series)
    table = _table(
        ["Timezone", "Contacts", "Dialed", "Connected", "Successful", "Success rate"],
        [
            [
                label,
                _count(row["contacts"]),
                _count(row["dialed"]),
                _count(row["connected"]),
                _count(row["successful"]),
                _share(row["successful"], row["dialed"]),
            ]
            for label, row in zip(labels, rows, strict=True)
        ],
    )
    return chart + table


def _distributions(data: CampaignData, figures: dict[str, Any]) -> str:
    attempts = data.attempts
    durations = attempts.loc[attempts["connected"], "duration_ms"].dropna() / 1000
    costs = attempts.loc[attempts["placed"], "cost_cents"].dropna()
    cost, duration = figures["cost"], figures["duration"]
    note = (
        f'<p class="note">Connected calls: mean {_seconds(duration["mean_connected_call_s"])}, '
        f"median {_seconds(duration['median_connected_call_s'])}. Cost per placed call "
        f"{_dollars(cost['per_call_cents'])}, per connected contact "
        f"{_dollars(cost['per_connected_contact_cents'])}, per successful contact "
        f"{_dollars(cost['per_successful_contact_cents'])}.</p>"
    )
    return (
        _histogram("Duration of connected calls (seconds)", durations, "s")
        + _histogram("Cost per placed call (cents)", costs, "¢")
        + note
    )


def _histogram(title: str, values: pd.Series, unit: str) -> str:
    heading = f"<h3>{escape(title)}</h3>"
    if values.empty:
        return heading + '<p class="note">No calls yet.</p>'
    counts, edges = np.histogram(values.to_numpy(dtype=float), bins=_HISTOGRAM_BINS)
    labels = [f"{low:,.0f}–{high:,.0f}{unit}" for low, high in pairwise(edges)]
    return heading + columns(title, labels, [Series("funnel", counts.tolist())], label_every=2)


def _sentiment(figures: dict[str, Any]) -> str:
    sentiment = figures["sentiment"]
    if not sentiment:
        return '<p class="note">No connected calls yet.</p>'
    names = list(sentiment)
    values = [sentiment[name] for name in names]
    return bar_rows("Sentiment", names, one_colour_per_row(names, values), legend=False)


def _ab_test(ab_test: dict[str, Any]) -> str:
    variants = ab_test["variants"]
    if len(variants) < 2:
        return '<p class="note">The campaign has one agent: there is nothing to compare.</p>'
    table = _table(
        ["Variant", "Contacts", "Dialed", "Connect rate (95% CI)", "Success rate (95% CI)"],
        [
            [
                arm["variant"],
                _count(arm["contacts"]),
                _count(arm["dialed"]),
                _rate_with_interval(arm, "connect_rate"),
                _rate_with_interval(arm, "success_rate"),
            ]
            for arm in variants
        ],
    )
    rows = [
        (f"{arm['variant']} {label}", arm[rate], *arm[f"{rate}_ci95"])
        for rate, label in (("connect_rate", "connect"), ("success_rate", "success"))
        for arm in variants
        if arm[rate] is not None
    ]
    chart = interval_rows("Rates with 95% confidence intervals", rows) if rows else ""
    tests = _table(
        ["Rate", "Variant vs control", "Difference", "z", "p-value", "Verdict"],
        [_comparison_row(comparison, ab_test) for comparison in ab_test["comparisons"]],
    )
    method = (
        '<p class="note">Rates are per dialed contact, with Wilson 95% intervals; each variant '
        "is compared with the control (the campaign file's first variant) by a pooled "
        f"two-proportion z test. A comparison needs at least {MIN_TRIALS} dialed contacts per "
        f"variant and {MIN_EXPECTED} expected successes and failures in each.</p>"
    )
    return table + chart + tests + method


def _comparison_row(comparison: dict[str, Any], ab_test: dict[str, Any]) -> list[str]:
    rate = comparison["metric"].replace("_", " ")
    pair = f"{comparison['variant']} vs {comparison['control']}"
    if not comparison["enough_data"]:
        return [rate, pair, "–", "–", "–", "not enough data"]
    level = ab_test["significance_level"]
    verdict = (
        f"significant at {level:.0%}" if comparison["significant"] else "no significant difference"
    )
    return [
        rate,
        pair,
        f"{comparison['difference'] * 100:+.1f} points",
        f"{comparison['z']:.2f}",
        f"{comparison['p_value']:.4f}",
        verdict,
    ]


def _rejected(figures: dict[str, Any]) -> str:
    reasons = figures["rejected_by_reason"]
    if not reasons:
        return '<p class="note">No input row was rejected.</p>'
    rows = [[reason.replace("_", " "), _count(count)] for reason, count in reasons.items()]
    return _table(["Reason", "Rows"], rows) + (
        '<p class="note">Each rejected row, with its reason, is in rejected.csv.</p>'
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _rate_with_interval(arm: dict[str, Any], rate: str) -> str:
    if arm[rate] is None:
        return "–"
    low, high = arm[f"{rate}_ci95"]
    return f"{arm[rate]:.1%} ({low:.1%}–{high:.1%})"


def _count(value: int) -> str:
    return f"{value:,}"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def _dollars(cents: float | None) -> str:
    return "–" if cents is None else f"${cents / 100:,.2f}"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} s"
