"""report.xlsx: the exported tables and the headline figures as one workbook.

Sheets: Summary (every single figure as a labelled row: label, value; costs in dollars), then the
tables Contacts, Attempts and Rejected, then the breakdowns (A-B variants, A-B tests, By local
hour, By timezone). Every sheet has a bold, frozen header row and column widths fitted to its
content; the tables and breakdowns have filter buttons on their header, and number formats for
costs, durations, rates and times (UTC). A text longer than an Excel cell holds (32,767
characters), header or cell, is cut with a visible marker (`campaigner.reports.cells`).

Text is written as text cells, which Excel never runs as formulas, so a cell keeps its text as it
is: no leading quote (which a CSV needs, `campaigner.csvsafe`), and a phone number such as
`+14155550100` stays text, not a number, without Excel's "number stored as text" warning.

Written with rustpy-xlsxwriter (Rust) in constant memory: about 1.5 M cells/s here, where openpyxl
managed 72 k, and a campaign of 100,000 contacts has some 7 M cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel
from rustpy_xlsxwriter import FastExcel, Format

from campaigner.reports.cells import cut_text, unique_names
from campaigner.reports.errors import ReportError
from campaigner.reports.headline import Headline

__all__ = ["EXCEL_MAX_CELL_CHARS", "EXCEL_MAX_ROWS", "write_workbook"]

EXCEL_MAX_ROWS = 1_048_576
"""Rows in one Excel sheet, its header included."""
EXCEL_MAX_CELL_CHARS = 32_767
"""Characters in one Excel cell; the writer refuses a longer text."""

# A header cut to a cell's length may then repeat another one and take unique_names' " (n)".
_MAX_HEADER_CHARS = EXCEL_MAX_CELL_CHARS - len(" (16384)")

_SUMMARY_HEADER = ("Figure", "Value")
_SUMMARY_FORMATS = {"_cents": ("$#,##0.00", " ($)"), "_s": ("#,##0.0", " (seconds)")}
"""Summary figures by the suffix of their name: the cell's number format and the label's unit.
Costs are shown in dollars (the figures are cents)."""
_WIDTH_SAMPLE_ROWS = 500
_MIN_WIDTH = 8
_MAX_WIDTH = 60
_NUMBER_FORMATS = {
    "cost_cents": "#,##0.00",
    "duration_s": "#,##0.0",
    "total_duration_s": "#,##0.0",
    "latency_p50_ms": "#,##0",
    "latency_p90_ms": "#,##0",
    "connect_rate": "0.0%",
    "success_rate": "0.0%",
    "difference": "0.0%",
    "p_value": "0.0000",
    "z": "0.000",
}


def write_workbook(path: Path, tables: dict[str, pd.DataFrame], figures: Headline) -> Path:
    """Write the Summary sheet of `figures`, one sheet per table, then one per list of figure
    rows; returns `path`. A table too long for one Excel sheet raises `ReportError` (nothing is
    written): the CSV and Parquet files have no such limit. Text longer than a cell holds is cut,
    with `campaigner.reports.cells.CUT_MARKER` at its end."""
    for name, table in tables.items():
        if len(table) >= EXCEL_MAX_ROWS:
            raise ReportError(
                f"the {name} sheet would have {len(table):,} rows, more than Excel's "
                f"{EXCEL_MAX_ROWS - 1:,}; use the csv or parquet format for this campaign"
            )
    summary, summary_formats = _summary(figures)
    workbook = (
        FastExcel(path)
        .format(bold_headers=True, datetime_format="yyyy-mm-dd hh:mm:ss")
        .freeze(row=1)
    )
    summary_cells = _cells(summary)
    workbook.sheet(
        "Summary", summary_cells, column_widths=_widths(summary_cells), row_formats=summary_formats
    )
    for name, table in {**tables, **_breakdowns(figures)}.items():
        cells = _cells(table)
        workbook.sheet(
            name,
            cells,
            column_widths=_widths(cells),
            column_formats={
                column: Format().set_num_format(_NUMBER_FORMATS[column])
                for column in cells.columns
                if column in _NUMBER_FORMATS
            },
            autofilter=True,
            # Text that looks like a number (a phone number, an id) is text on purpose.
            ignore_errors=[
                str(column)
                for column in cells.columns
                if isinstance(cells[column].dtype, pd.StringDtype)
            ],
        )
    workbook.save()
    return path


def _summary(figures: Headline) -> tuple[pd.DataFrame, dict[int, Format]]:
    """Every single figure as a (label, value) row, nested names joined with ": "
    (`Cost: total ($)`), and the number format of each row that has one, by sheet row."""
    rows: list[tuple[str, Any]] = []
    formats: dict[int, Format] = {}

    def walk(names: tuple[str, ...], value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk((*names, str(key)), inner)
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            rows.append((_label(names, ""), "; ".join(value)))
        elif not isinstance(value, list):  # lists of rows have sheets of their own
            label, shown, number_format = _summary_cell(names, value)
            if number_format is not None:
                formats[len(rows) + 1] = Format().set_num_format(number_format)
            rows.append((label, shown))

    walk((), figures.model_dump(mode="json"))
    return pd.DataFrame(rows, columns=list(_SUMMARY_HEADER)), formats


def _summary_cell(names: tuple[str, ...], value: Any) -> tuple[str, Any, str | None]:
    """The label, value and number format of one figure: costs in dollars, durations in
    seconds, times (ISO text in summary.json) as UTC text without the microseconds."""
    name = names[-1]
    suffix = next((end for end in _SUMMARY_FORMATS if name.endswith(end)), None)
    if suffix is not None:
        number_format, unit = _SUMMARY_FORMATS[suffix]
        shown = value / 100 if suffix == "_cents" and value is not None else value
        return _label((*names[:-1], name.removesuffix(suffix)), unit), shown, number_format
    if name.endswith("_at") and isinstance(value, str):
        moment = datetime.fromisoformat(value).astimezone(UTC)
        return _label(names, " (UTC)"), f"{moment:%Y-%m-%d %H:%M:%S}", None
    return _label(names, ""), value, None


def _label(names: tuple[str, ...], unit: str) -> str:
    """`("cost", "per_call")` and " ($)" as `Cost: per call ($)`."""
    words = ": ".join(name.replace("_", " ") for name in names)
    return f"{words[:1].upper()}{words[1:]}{unit}"


def _breakdowns(figures: Headline) -> dict[str, pd.DataFrame]:
    ab_test = figures.ab_test
    return {
        "A-B variants": _flat_rows(ab_test.variants),
        "A-B tests": _flat_rows(ab_test.comparisons),
        "By local hour": _flat_rows(figures.by_local_hour),
        "By timezone": _flat_rows(figures.by_timezone),
    }


def _flat_rows(figures: Sequence[BaseModel]) -> pd.DataFrame:
    """Rows as summary.json has them, but each interval (`..._ci95`: [low, high] or None) as two
    columns."""
    flat = []
    for row in (figure.model_dump(mode="json") for figure in figures):
        out: dict[str, Any] = {}
        for key, value in row.items():
            if key.endswith("_ci95"):
                out[f"{key}_low"], out[f"{key}_high"] = value or (None, None)
            else:
                out[key] = value
        flat.append(out)
    return pd.DataFrame(flat)


def _cells(table: pd.DataFrame) -> pd.DataFrame:
    """Columns the writer takes as they are (it reads nullable and Arrow-backed columns
    directly), except timestamps, made naive UTC, missing values in columns of Python objects,
    made None, and text longer than a cell holds, cut (`cut_text`); headers are cells too, so
    they are cut and made unique again."""
    changed = {
        name: _excel_column(table[name])
        for name in table.columns
        if isinstance(table[name].dtype, pd.DatetimeTZDtype | pd.StringDtype)
        or table[name].dtype == object
    }
    cells = table.assign(**changed) if changed else table
    return cells.set_axis(
        unique_names([cut_text(str(name), _MAX_HEADER_CHARS) for name in cells.columns]),
        axis="columns",
    )


def _excel_column(values: pd.Series) -> pd.Series:
    """A column of timestamps, text or Python objects as `_cells` hands it to the writer."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        naive_utc: pd.Series = values.dt.tz_convert("UTC").dt.tz_localize(None)
        return naive_utc
    if isinstance(values.dtype, pd.StringDtype):
        too_long = values.str.len().gt(EXCEL_MAX_CELL_CHARS).fillna(False).astype(bool)
        return values.mask(too_long, values[too_long].map(_cut_cell)) if too_long.any() else values
    return values.astype(object).where(values.notna(), None).map(_cut_cell)


def _cut_cell(value: object) -> object:
    return cut_text(value, EXCEL_MAX_CELL_CHARS) if isinstance(value, str) else value


def _widths(cells: pd.DataFrame) -> dict[str, float]:
    """A width per column from its header and the longest of its first few hundred cells."""
    sample = cells.head(_WIDTH_SAMPLE_ROWS)
    widths: dict[str, float] = {}
    for name in cells.columns:
        longest = sample[name].map(lambda value: 0 if pd.isna(value) else len(str(value)))
        content = int(longest.max()) if len(longest) else 0
        widths[str(name)] = float(min(_MAX_WIDTH, max(_MIN_WIDTH, len(str(name)) + 2, content)))
    return widths
