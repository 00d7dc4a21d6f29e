"""Phone numbers with most digits hidden, for campaigns that set `mask_numbers_in_exports`.

Every digit but the last four becomes `x`, other characters stay (so the shape of the number as
written is kept) and a leading `+` is dropped: `+14155550123` -> `xxxxxxx0123`,
`(415) 555-0123` -> `(xxx) xxx-0123`. Dropping the `+` keeps a masked cell from starting like a
formula, so spreadsheets show it as it is.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["mask_phone_numbers"]

_DIGIT_BEFORE_LAST_FOUR = r"\d(?=(?:\D*\d){4})"


def mask_phone_numbers(values: pd.Series) -> pd.Series:
    """The text of each value with all but its last four digits hidden (missing stays missing)."""
    text = values.astype("string")
    return text.str.replace(_DIGIT_BEFORE_LAST_FOUR, "x", regex=True).str.removeprefix("+")
