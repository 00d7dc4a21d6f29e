"""Spreadsheet-safe cells for every file campaigner writes (CSV and XLSX exports).

A cell whose text starts with `=`, `+`, `-`, `@`, a tab or a carriage return can be run as a
formula when the file is opened in a spreadsheet (CSV injection). Such cells are written with a
leading single quote, as OWASP advises; the data in the store is never changed.

One exception keeps real data intact: a cell that is exactly a plain decimal number (`-12.5`,
`+14155550100`, `1e6`) is written as is. A spreadsheet reads it as a number, never as a
formula, and prefixing it would mangle E.164 phone numbers and negative amounts.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["FORMULA_TRIGGERS", "neutralise_cell", "neutralise_frame"]

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TRIGGER_PATTERN = r"[=+\-@\t\r]"
_PLAIN_NUMBER_PATTERN = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_PLAIN_NUMBER = re.compile(_PLAIN_NUMBER_PATTERN)


def neutralise_cell(value: str) -> str:
    """The text to write for a cell: quoted if a spreadsheet could run it, else unchanged."""
    if value.startswith(FORMULA_TRIGGERS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` with every text cell passed through `neutralise_cell`.

    String columns are handled vectorised; text inside object columns one by one; other values
    (numbers, dates, missing values) are left as they are.
    """
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if isinstance(values.dtype, pd.StringDtype):
            risky = values.str.match(_TRIGGER_PATTERN, na=False) & ~values.str.fullmatch(
                _PLAIN_NUMBER_PATTERN, na=False
            )
            safe[column] = values.mask(risky, "'" + values)
        elif values.dtype == object:
            safe[column] = values.map(
                lambda value: neutralise_cell(value) if isinstance(value, str) else value
            )
    return safe
