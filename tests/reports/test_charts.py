"""Inline SVG charts: drawn to scale, labels escaped, nothing outside the markup."""

from __future__ import annotations

import re

from campaigner.reports.charts import (
    COLOURS,
    Series,
    bar_rows,
    columns,
    interval_rows,
    one_colour_per_row,
)


def widths(svg: str, colour: str) -> list[float]:
    """Widths of the bars (18 px high; legend swatches are 12) of one colour."""
    return [float(w) for w in re.findall(rf'width="([\d.]+)" height="18.0" fill="{colour}"', svg)]


def test_bars_are_drawn_to_scale_and_stacked() -> None:
    svg = bar_rows(
        "t",
        ["a", "b"],
        [Series("successful", [10, 5]), Series("failed", [10, 0])],
    )
    successful, failed = widths(svg, COLOURS["successful"]), widths(svg, COLOURS["failed"])
    assert successful[0] == 2 * successful[1]
    assert failed == [successful[0]]  # a zero value draws no bar
    assert ">20<" in svg  # the row total
    assert "successful" in svg  # the legend


def test_labels_and_titles_are_escaped() -> None:
    svg = bar_rows('<script>alert("x")</script>', ["<b>&"], [Series("funnel", [1])])
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "&lt;b&gt;&amp;" in svg


def test_one_colour_per_row_puts_each_value_in_its_own_series() -> None:
    series = one_colour_per_row(["voicemail", "busy"], [3, 4])
    assert [list(part.values) for part in series] == [[3, 0], [0, 4]]
    svg = bar_rows("t", ["voicemail", "busy"], series, legend=False)
    assert widths(svg, COLOURS["voicemail"])
    assert widths(svg, COLOURS["busy"])


def test_columns_and_intervals_are_plain_svg() -> None:
    svg = columns("by hour", [f"{h:02d}" for h in range(24)], [Series("funnel", list(range(24)))])
    heights = re.findall(rf'height="([\d.]+)" fill="{COLOURS["funnel"]}"', svg)
    assert len(heights) == 23  # hour 0 has no calls
    intervals = interval_rows("rates", [("A success", 0.5, 0.35, 0.65)])
    assert "50.0% (35.0%–65.0%)" in intervals
    for chart in (svg, intervals):
        assert chart.startswith("<svg")
        assert chart.endswith("</svg>")
        assert "http" not in chart
        assert "<script" not in chart


def test_a_long_row_label_is_shortened_and_kept_whole_on_hover() -> None:
    label = "America/Adak | America/Anchorage"
    svg = bar_rows("t", [label, "short"], [Series("successful", [1, 2])])
    assert f"<title>{label}</title>America/Adak | America/Anc\u2026</text>" in svg
    assert ">short</text>" in svg
