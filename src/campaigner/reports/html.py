"""report.html: one self-contained page a manager can open anywhere, offline.

The page is the Jinja2 template `templates/report.html.j2`, autoescaped, reading the `Headline`
(`campaigner.reports.headline`) by attribute. Styles are inlined from `templates/report.css`,
charts are inline SVG (`campaigner.reports.charts`, handed to the template as markup) and there is
no script and no reference to anything outside the file. The two histograms (call duration, call
cost) are drawn from the attempts themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from itertools import pairwise

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from campaigner.display_text import printable
from campaigner.outcomes import ResultGroup
from campaigner.reports.charts import Series, bar_rows, columns, interval_rows, one_colour_per_row
from campaigner.reports.frames import CampaignData
from campaigner.reports.headline import ABTest, Headline, HourRow, TimezoneRow
from campaigner.reports.stats import MIN_EXPECTED, MIN_TRIALS

__all__ = ["render_report"]

_HISTOGRAM_BINS = 12
_FUNNEL_LABELS = ("Input rows", "Contacts", "Dialed", "Connected", "Successful")


@dataclass(frozen=True)
class _Charts:
    """The page's charts as SVG markup; None where there is nothing to draw yet."""

    funnel: Markup
    results: Markup
    by_hour: Markup | None
    by_timezone: Markup
    durations: Markup | None
    costs: Markup | None
    sentiment: Markup | None
    ab_rates: Markup | None


def render_report(data: CampaignData, headline: Headline) -> str:
    """The whole HTML document."""
    css = files("campaigner.reports").joinpath("templates/report.css").read_text("utf-8")
    return (
        _templates()
        .get_template("report.html.j2")
        .render(
            report=headline,
            charts=_charts(data, headline),
            # Our own style sheet: escaping would break its quoted font names.
            css=Markup(css),  # noqa: S704
            min_trials=MIN_TRIALS,
            min_expected=MIN_EXPECTED,
        )
    )


@cache
def _templates() -> Environment:
    environment = Environment(
        loader=PackageLoader("campaigner.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters.update(
        number=_number,
        share=_share,
        dollars=_dollars,
        seconds=_seconds,
        percent=_percent,
        # Text people wrote (a pause reason, a description): no control characters or bidi
        # overrides, which would reorder or hide what the page shows; autoescaping does the rest.
        printable=printable,
    )
    return environment


def _charts(data: CampaignData, headline: Headline) -> _Charts:
    attempts = data.attempts
    durations = attempts.loc[attempts["connected"], "duration_ms"].dropna() / 1000
    costs = attempts.loc[attempts["placed"], "cost_cents"].dropna()
    return _Charts(
        funnel=_funnel(headline),
        results=_results(headline.results),
        by_hour=_by_hour(headline.by_local_hour),
        by_timezone=_by_timezone(headline.by_timezone),
        durations=_histogram("Duration of connected calls (seconds)", durations, "s"),
        costs=_histogram("Cost per placed call (cents)", costs, "¢"),
        sentiment=_sentiment(headline.sentiment),
        ab_rates=_ab_rates(headline.ab_test),
    )


def _svg(svg: str) -> Markup:
    """A chart of `campaigner.reports.charts`, which escapes every text it draws."""
    return Markup(svg)  # noqa: S704


def _funnel(headline: Headline) -> Markup:
    funnel = headline.funnel
    values = [
        headline.input_rows,
        funnel.contacts,
        funnel.dialed,
        funnel.connected,
        funnel.successful,
    ]
    return _svg(bar_rows("Funnel", _FUNNEL_LABELS, [Series("funnel", values)]))


def _results(results: dict[ResultGroup, int]) -> Markup:
    groups = [group for group in ResultGroup if results.get(group)]
    series = one_colour_per_row([group.value for group in groups], [results[g] for g in groups])
    labels = [group.value.replace("_", " ") for group in groups]
    return _svg(bar_rows("Contacts by result", labels, series, legend=False))


def _by_hour(rows: list[HourRow]) -> Markup | None:
    if not rows:
        return None
    by_hour = {row.hour: row.by_group for row in rows}
    present = {group for row in rows for group in row.by_group}
    series = [
        Series(group.value, [by_hour.get(hour, {}).get(group, 0) for hour in range(24)])
        for group in ResultGroup
        if group in present
    ]
    labels = [f"{hour:02d}" for hour in range(24)]
    return _svg(columns("Calls by local hour and result", labels, series, label_every=2))


def _by_timezone(rows: list[TimezoneRow]) -> Markup:
    labels = [row.timezone.replace("|", " | ") for row in rows]
    series = [
        Series("successful", [row.successful for row in rows]),
        Series("connected_unsuccessful", [row.connected - row.successful for row in rows]),
        Series("no_answer", [row.dialed - row.connected for row in rows], "not connected"),
        Series("not_dialed", [row.contacts - row.dialed for row in rows]),
    ]
    return _svg(bar_rows("Contacts by timezone and result", labels, series))


def _histogram(title: str, values: pd.Series, unit: str) -> Markup | None:
    if values.empty:
        return None
    counts, edges = np.histogram(values.to_numpy(dtype=float), bins=_HISTOGRAM_BINS)
    labels = [f"{low:,.0f}–{high:,.0f}{unit}" for low, high in pairwise(edges)]
    return _svg(columns(title, labels, [Series("funnel", counts.tolist())], label_every=2))


def _sentiment(sentiment: dict[str, int]) -> Markup | None:
    if not sentiment:
        return None
    names = list(sentiment)
    values = [sentiment[name] for name in names]
    return _svg(bar_rows("Sentiment", names, one_colour_per_row(names, values), legend=False))


def _ab_rates(ab_test: ABTest) -> Markup | None:
    """The variants' rates with their intervals, when there are variants to compare."""
    if len(ab_test.variants) < 2:
        return None
    arms = ab_test.variants
    rates = [
        *((f"{arm.variant} connect", arm.connect_rate, arm.connect_rate_ci95) for arm in arms),
        *((f"{arm.variant} success", arm.success_rate, arm.success_rate_ci95) for arm in arms),
    ]
    rows = [
        (label, rate, *interval)
        for label, rate, interval in rates
        if rate is not None and interval is not None
    ]
    return _svg(interval_rows("Rates with 95% confidence intervals", rows)) if rows else None


def _number(value: int) -> str:
    return f"{value:,}"


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def _percent(rate: float, digits: int = 1) -> str:
    return f"{rate:.{digits}%}"


def _dollars(cents: float | None) -> str:
    return "–" if cents is None else f"${cents / 100:,.2f}"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} s"
