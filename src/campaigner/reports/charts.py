"""Charts as inline SVG text: no JavaScript, no fonts or images to fetch, readable in any browser.

Three kinds cover the report:

- `bar_rows`: horizontal bars, one row per label, each bar a stack of series (a funnel, counts by
  outcome, results by timezone).
- `columns`: vertical stacked columns over ordered labels (calls by hour, histograms).
- `interval_rows`: a rate per row with its confidence interval as a whisker (the A/B comparison).

Every chart has a `<title>` and a legend when it has more than one series, so it reads without
colour too. Values are drawn to scale from zero; labels are escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from campaigner.outcomes import RESULT_GROUP_COLOURS

__all__ = ["COLOURS", "Series", "bar_rows", "columns", "interval_rows", "one_colour_per_row"]

COLOURS = {
    "funnel": "#1565c0",
    **{group.value: colour for group, colour in RESULT_GROUP_COLOURS.items()},
    "Positive": "#2e7d32",
    "Neutral": "#90a4ae",
    "Negative": "#c62828",
    "Unknown": "#d7ccc8",
}
"""Fill colours by series name (a result group's is the table of outcomes'); other series take
`_FALLBACK`."""

_FALLBACK = "#5c6bc0"
_WIDTH = 760
_LABEL_WIDTH = 190
# What fits in _LABEL_WIDTH at 12 px (a zone set like "America/Adak | America/Anchorage" does not).
_LABEL_CHARS = 27
_ROW_HEIGHT = 24
_LEGEND_HEIGHT = 22
_TOP = 8


@dataclass(frozen=True)
class Series:
    """One stacked part of every bar: a name (its colour key and legend text) and its values."""

    name: str
    values: Sequence[float]
    label: str | None = None

    @property
    def colour(self) -> str:
        return COLOURS.get(self.name, _FALLBACK)

    @property
    def legend(self) -> str:
        return self.label or self.name.replace("_", " ")


def bar_rows(
    title: str, labels: Sequence[str], series: Sequence[Series], *, legend: bool = True
) -> str:
    """Horizontal stacked bars, one per label, with each row's total at its end."""
    totals = [sum(part.values[row] for part in series) for row in range(len(labels))]
    scale = (_WIDTH - _LABEL_WIDTH - 70) / (max(totals, default=0) or 1)
    legend_height = _LEGEND_HEIGHT if legend and len(series) > 1 else 0
    height = _TOP + legend_height + _ROW_HEIGHT * len(labels) + 8
    shapes = [_legend(series, _LABEL_WIDTH, _TOP)] if legend_height else []
    for row, label in enumerate(labels):
        y = _TOP + legend_height + row * _ROW_HEIGHT
        shapes.append(_row_label(y + 16, label))
        x = float(_LABEL_WIDTH)
        for part in series:
            width = part.values[row] * scale
            if width > 0:
                shapes.append(_rect(x, y + 3, width, _ROW_HEIGHT - 6, part.colour))
            x += width
        shapes.append(_text(x + 6, y + 16, _number(totals[row])))
    return _svg(title, height, shapes)


def one_colour_per_row(names: Sequence[str], values: Sequence[float]) -> list[Series]:
    """Series that give each row of `bar_rows` its own colour (by its name)."""
    return [
        Series(name, [value if row == index else 0 for row in range(len(values))])
        for index, (name, value) in enumerate(zip(names, values, strict=True))
    ]


def columns(
    title: str, labels: Sequence[str], series: Sequence[Series], *, label_every: int = 1
) -> str:
    """Vertical stacked columns over ordered labels (every `label_every`-th label is written)."""
    chart_height = 180
    left, bottom = 50, 34
    legend_height = _LEGEND_HEIGHT if len(series) > 1 else 0
    top = _TOP + legend_height
    totals = [sum(part.values[index] for part in series) for index in range(len(labels))]
    peak = max(totals, default=0) or 1
    slot = (_WIDTH - left - 10) / max(len(labels), 1)
    shapes = [_legend(series, left, _TOP)] if legend_height else []
    base = top + chart_height
    shapes.append(_line(left, base, _WIDTH - 10, base))
    shapes.append(_text(left - 6, top + 10, _number(peak), anchor="end"))
    shapes.append(_text(left - 6, base, "0", anchor="end"))
    for index, label in enumerate(labels):
        x = left + index * slot
        y = float(base)
        for part in series:
            height = part.values[index] / peak * chart_height
            if height > 0:
                y -= height
                shapes.append(_rect(x + 1, y, max(slot - 2, 1), height, part.colour))
        if index % label_every == 0:
            shapes.append(_text(x + slot / 2, base + 16, label, anchor="middle", size=11))
    return _svg(title, top + chart_height + bottom, shapes)


def interval_rows(title: str, rows: Sequence[tuple[str, float, float, float]]) -> str:
    """One row per (label, rate, low, high) on a 0-100 % axis: a dot and its interval."""
    scale = _WIDTH - _LABEL_WIDTH - 170
    height = _TOP + _ROW_HEIGHT * len(rows) + 26
    axis_y = _TOP + _ROW_HEIGHT * len(rows) + 4
    shapes = [_line(_LABEL_WIDTH, axis_y, _LABEL_WIDTH + scale, axis_y)]
    for tick in (0, 25, 50, 75, 100):
        x = _LABEL_WIDTH + scale * tick / 100
        shapes.append(_text(x, axis_y + 16, f"{tick}%", anchor="middle", size=11))
    for row, (label, rate, low, high) in enumerate(rows):
        y = _TOP + row * _ROW_HEIGHT + _ROW_HEIGHT / 2
        shapes.append(_row_label(y + 5, label))
        shapes.append(
            _rect(_LABEL_WIDTH + low * scale, y - 2, (high - low) * scale, 4, COLOURS["funnel"])
        )
        shapes.append(
            f'<circle cx="{_LABEL_WIDTH + rate * scale:.1f}" cy="{y:.1f}" r="6" '
            f'fill="{COLOURS["funnel"]}"/>'
        )
        shapes.append(
            _text(_LABEL_WIDTH + scale + 8, y + 5, f"{rate:.1%} ({low:.1%}–{high:.1%})", size=11)
        )
    return _svg(title, height, shapes)


def _svg(title: str, height: float, shapes: list[str]) -> str:
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {_WIDTH} {height:.0f}" '
        f'width="{_WIDTH}" height="{height:.0f}"><title>{escape(title)}</title>'
        + "".join(shapes)
        + "</svg>"
    )


def _legend(series: Sequence[Series], x: float, y: float) -> str:
    items = []
    for part in series:
        items.append(_rect(x, y + 2, 12, 12, part.colour))
        items.append(_text(x + 16, y + 12, part.legend, size=11))
        x += 24 + 7 * len(part.legend)
    return "".join(items)


def _rect(x: float, y: float, width: float, height: float, colour: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{colour}"/>'
    )


def _line(x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#888" stroke-width="1"/>'


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}">'
        f"{escape(text)}</text>"
    )


def _row_label(y: float, label: str) -> str:
    """A row's label, shortened to fit beside the bars; the whole label shows on hover."""
    if len(label) <= _LABEL_CHARS:
        return _text(_LABEL_WIDTH - 8, y, label, anchor="end")
    shown = escape(label[: _LABEL_CHARS - 1]) + "\u2026"
    return (
        f'<text x="{_LABEL_WIDTH - 8:.1f}" y="{y:.1f}" font-size="12" text-anchor="end">'
        f"<title>{escape(label)}</title>{shown}</text>"
    )


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
