"""Masked phone numbers keep their last four digits and never look like a formula."""

from __future__ import annotations

import pandas as pd

from campaigner.reports.masking import mask_phone_numbers


def test_all_but_the_last_four_digits_are_hidden() -> None:
    masked = mask_phone_numbers(
        pd.Series(["+14155550123", "(415) 555-0123", "+44 20 7946 0958", None, "12"])
    )
    assert masked.tolist()[:3] == ["xxxxxxx0123", "(xxx) xxx-0123", "xx xx xxxx 0958"]
    assert pd.isna(masked.iloc[3])
    assert masked.iloc[4] == "12"
