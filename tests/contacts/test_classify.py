"""Row outcomes from the campaign's rules, without a store: reasons, details, precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from campaigner.campaign import ColumnMapping, NumberRules
from campaigner.contacts.classify import classify_rows, map_columns, reject_listed_numbers
from campaigner.contacts.reading import read_contact_table
from campaigner.contacts.reasons import RejectReason

MAPPING = ColumnMapping(phone="phone", timezone="tz")


def outcomes(tmp_path: Path, text: str, rules: NumberRules) -> list[tuple[object, ...]]:
    path = tmp_path / "c.csv"
    path.write_text("Phone,TZ\n" + text, encoding="utf-8")
    table = read_contact_table(path)
    frame = classify_rows(table, map_columns(table, MAPPING), rules)
    return list(frame[["row_number", "reason", "detail", "timezones"]].itertuples(index=False))


def test_allowed_countries(tmp_path: Path) -> None:
    rows = outcomes(
        tmp_path, "+44 20 7946 0123,\n416 555 0150,\n", NumberRules(allowed_countries=["US"])
    )
    assert rows[0][1:3] == (
        RejectReason.COUNTRY_NOT_ALLOWED,
        "a number of GB; the campaign allows US",
    )
    assert rows[1][1:3] == (
        RejectReason.COUNTRY_NOT_ALLOWED,
        "a number of CA; the campaign allows US",
    )


def test_mobile_only_accepts_fixed_line_or_mobile(tmp_path: Path) -> None:
    rows = outcomes(
        tmp_path,
        "212 555 0150,\n1 800 555 0150,\n+44 20 7946 0123,\n+61 491 570 156,\n",
        NumberRules(mobile_only=True),
    )
    assert [row[1] for row in rows] == [None, "not_mobile", "not_mobile", None]
    assert rows[1][2] == "a toll_free number; the campaign is mobile_only"
    assert rows[2][2] == "a fixed_line number; the campaign is mobile_only"


def test_explicit_time_zones(tmp_path: Path) -> None:
    rows = outcomes(
        tmp_path,
        "212 555 0150, america/chicago \n212 555 0151,Eastern\n+870 773 111 632,\n"
        "+870 773 111 633,Etc/UTC\n",
        NumberRules(),
    )
    assert rows[0][1:] == (None, "", ("America/Chicago",))
    assert rows[1][1:3] == (
        RejectReason.INVALID_TIMEZONE,
        "'Eastern' is not an IANA time zone name such as America/New_York",
    )
    assert rows[2][1:3] == (
        RejectReason.UNKNOWN_TIMEZONE,
        "no time zone can be derived from +870773111632; give one in the time zone column",
    )
    assert rows[3][1:] == (None, "", ("Etc/UTC",))


def test_first_failing_check_wins(tmp_path: Path) -> None:
    # A UK number with a bad zone, repeated: the country rule comes first, then the zone.
    rows = outcomes(
        tmp_path,
        "+44 20 7946 0123,Nowhere\n212 555 0150,Nowhere\n",
        NumberRules(allowed_countries=["US"]),
    )
    assert [row[1] for row in rows] == ["country_not_allowed", "invalid_timezone"]


def test_in_file_duplicates_name_the_first_row_and_skip_rejected_rows(tmp_path: Path) -> None:
    rows = outcomes(
        tmp_path,
        "212 555 0150,Nowhere\n(212) 555-0150,\n\n212.555.0150,\n+1 212 555 0150,\n",
        NumberRules(),
    )
    assert [(row[0], row[1], row[2]) for row in rows] == [
        (2, "invalid_timezone", "'Nowhere' is not an IANA time zone name such as America/New_York"),
        (3, None, ""),
        (5, "duplicate_in_file", "same number as row 3"),
        (6, "duplicate_in_file", "same number as row 3"),
    ]


@pytest.mark.parametrize("listed", [{}, {"+12125550150": "on the list"}])
def test_listed_numbers_reject_open_rows_only(tmp_path: Path, listed: dict[str, str]) -> None:
    path = tmp_path / "c.csv"
    path.write_text("Phone,TZ\n212 555 0150,\n212 555 0150,\n", encoding="utf-8")
    table = read_contact_table(path)
    frame = classify_rows(table, map_columns(table, MAPPING), NumberRules())
    reject_listed_numbers(frame, listed, RejectReason.SUPPRESSED)
    expected_first = ("suppressed", "on the list") if listed else (None, "")
    assert tuple(frame.loc[0, ["reason", "detail"]]) == expected_first
    assert frame.loc[1, "reason"] == "duplicate_in_file"
