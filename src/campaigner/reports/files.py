"""Writers of the flat files: spreadsheet-safe CSV, Parquet, JSON.

CSV is UTF-8 with a byte-order mark (so Excel reads accents), timestamps ISO 8601 in UTC, and every
text cell passed through `campaigner.csvsafe` so that no cell runs as a formula. Parquet keeps the
values as they are (it is for analysts' tools, not spreadsheets); a text column that mixes value
types (a custom analysis field that is sometimes a number) is written as text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from campaigner.csvsafe import neutralise_cell, neutralise_frame

__all__ = ["write_csv", "write_json", "write_parquet"]

_CSV_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    """Write `table` as spreadsheet-safe CSV; returns `path`."""
    safe = neutralise_frame(table)
    safe.columns = [neutralise_cell(str(name)) for name in safe.columns]
    safe.to_csv(path, index=False, encoding="utf-8-sig", date_format=_CSV_TIME_FORMAT)
    return path


def write_parquet(table: pd.DataFrame, path: Path) -> Path:
    """Write `table` as Parquet; returns `path`."""
    mixed = [name for name in table.columns if _mixes_types(table[name])]
    typed = table.astype(dict.fromkeys(mixed, "string")) if mixed else table
    typed.to_parquet(path, index=False)
    return path


def write_json(figures: dict[str, Any], path: Path) -> Path:
    """Write figures as indented JSON; returns `path`."""
    path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _mixes_types(values: pd.Series) -> bool:
    if values.dtype != object:
        return False
    return len({type(value) for value in values.dropna()}) > 1
