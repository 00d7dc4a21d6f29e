"""Writers of the flat files: CSV, Parquet, JSON, for tables whose cells are already
spreadsheet-safe (`campaigner.reports.tables`).

CSV is UTF-8 with a byte-order mark (so Excel reads accents), timestamps ISO 8601 in UTC
(`2026-03-02T14:05:09Z`), booleans `true`/`false`. Both CSV and Parquet go through Arrow (faster
than pandas' own CSV writer; figures in bench/README.md). A column that mixes value types (a custom
analysis field that is sometimes a number) is written as text in both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet
from pydantic import BaseModel

__all__ = ["write_csv", "write_json", "write_parquet"]

_CSV_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_UTF8_BOM = b"\xef\xbb\xbf"


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    """Write `table` as CSV; returns `path`."""
    arrow = _arrow_table(table)
    columns = [
        _iso_seconds(column) if pa.types.is_timestamp(column.type) else column
        for column in arrow.columns
    ]
    with path.open("wb") as file:
        file.write(_UTF8_BOM)
        pa_csv.write_csv(pa.table(columns, names=arrow.column_names), file)
    return path


def write_parquet(table: pd.DataFrame, path: Path) -> Path:
    """Write `table` as Parquet; returns `path`."""
    pa_parquet.write_table(_arrow_table(table), path)
    return path


def write_json(figures: BaseModel, path: Path) -> Path:
    """Write figures as indented JSON; returns `path`."""
    # json.dumps, not pydantic's writer, so numbers are written as summary.json always wrote them
    # (pydantic writes 0.00001 where Python writes 1e-05).
    text = json.dumps(figures.model_dump(mode="json"), indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _iso_seconds(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Timestamps as `2026-03-02T14:05:09Z` (whole seconds: %S would print the microseconds)."""
    seconds = column.cast(pa.timestamp("s", tz=column.type.tz), safe=False)
    return pc.strftime(seconds, format=_CSV_TIME_FORMAT)


def _arrow_table(table: pd.DataFrame) -> pa.Table:
    mixed = [name for name in table.columns if _mixes_types(table[name])]
    typed = table.astype(dict.fromkeys(mixed, "string")) if mixed else table
    return pa.Table.from_pandas(typed, preserve_index=False)


def _mixes_types(values: pd.Series) -> bool:
    return values.dtype == object and len({type(value) for value in values.dropna()}) > 1
