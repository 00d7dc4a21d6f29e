"""Spreadsheet-safe cells: formulas are neutralised, plain numbers are not."""

from __future__ import annotations

import pandas as pd
import pytest

from campaigner.csvsafe import neutralise_cell, neutralise_frame


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x","click")', '\'=HYPERLINK("http://x","click")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("+1 415 555 0100", "'+1 415 555 0100"),
        # Plain numbers are data a spreadsheet reads as numbers, never as formulas.
        ("+14155550100", "+14155550100"),
        ("-12.5", "-12.5"),
        ("+3", "+3"),
        ("-.5e3", "-.5e3"),
        # Ordinary text, and triggers that are not at the start.
        ("Ann Lee", "Ann Lee"),
        ("a=b", "a=b"),
        ("", ""),
        ("'=1", "'=1"),
    ],
)
def test_cells(value: str, written: str) -> None:
    assert neutralise_cell(value) == written


def test_frames_are_neutralised_per_column_kind_without_touching_the_input() -> None:
    frame = pd.DataFrame(
        {
            "text": pd.Series(["=1+1", "-12.5", "ok", None], dtype="str"),
            "mixed": pd.Series(["@x", 5, None, "+14155550100"], dtype=object),
            "number": [-1.5, 2.0, 3.0, 4.0],
        }
    )
    safe = neutralise_frame(frame)
    assert safe["text"].tolist()[:3] == ["'=1+1", "-12.5", "ok"]
    assert pd.isna(safe["text"].iloc[3])
    assert safe["mixed"].tolist() == ["'@x", 5, None, "+14155550100"]
    assert safe["number"].tolist() == [-1.5, 2.0, 3.0, 4.0]
    assert frame["text"].iloc[0] == "=1+1"
