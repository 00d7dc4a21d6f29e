"""Phone normalisation: the documented writings, every rejection, and fast path == reference."""

from __future__ import annotations

import pandas as pd
import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaigner.contacts import phone_column
from campaigner.contacts.phone_column import normalise_numbers
from campaigner.contacts.phones import normalise_number, repair_excel_number
from campaigner.contacts.reasons import RejectReason

SAN_FRANCISCO = "+14155550100"


@pytest.mark.parametrize(
    ("cell", "region"),
    [
        ("(415) 555-0100", "US"),
        ("415.555.0100", "US"),
        ("+1 415 555 0100", "US"),
        ("011 1 415 555 0100", "US"),  # the US international prefix is 011
        ("001 415 555 0100", "GB"),  # ... the UK's is 00
        ("1-415-555-0100", "US"),
        ("4.155550100E9", "US"),
        ("4155550100.0", "US"),
        ("  4155550100  ", "US"),
        ("415-555-0100 x12", "US"),
        ("415-555-0100 ext. 12", "US"),
        ("+1 415 555 0100;ext=12", "US"),
        ("+1 (415) 555-0100", "DE"),
    ],
)
def test_documented_writings_normalise_to_e164(cell: str, region: str) -> None:
    result = normalise_number(cell, region)
    assert (result.e164, result.reason) == (SAN_FRANCISCO, None)
    assert result.region == "US"
    assert result.timezones == ("America/Los_Angeles",)
    assert normalise_numbers(pd.Series([cell], dtype="str"), region).result_at(0) == result


def test_001_is_not_an_international_prefix_in_the_us() -> None:
    result = normalise_number("001 415 555 0100", "US")
    assert result.reason is RejectReason.INVALID_NUMBER
    assert result.detail.startswith("too_long:")


@pytest.mark.parametrize(
    ("cell", "reason", "detail_start"),
    [
        ("", RejectReason.MISSING_NUMBER, "the phone cell is empty"),
        ("   ", RejectReason.MISSING_NUMBER, "the phone cell is empty"),
        ("1-800-FLOWERS", RejectReason.UNPARSEABLE, "contains letters ('F')"),
        ("415-555-01OO", RejectReason.UNPARSEABLE, "contains letters ('O')"),
        ("call me", RejectReason.UNPARSEABLE, "contains letters"),
        ("--", RejectReason.UNPARSEABLE, "not_a_number"),
        ("+999 123 456", RejectReason.UNPARSEABLE, "invalid_country_code"),
        ("4155", RejectReason.INVALID_NUMBER, "too_short:"),
        ("555-0100", RejectReason.INVALID_NUMBER, "too_short: +15550100 is a local number"),
        ("+1 415 555 01000", RejectReason.INVALID_NUMBER, "too_long:"),
        ("+1 123 555 0100", RejectReason.INVALID_NUMBER, "not_assigned:"),
        ("4.16E+09", RejectReason.INVALID_NUMBER, "not_assigned: +14160000000"),
    ],
)
def test_rejections_have_a_reason_and_a_detail(
    cell: str, reason: RejectReason, detail_start: str
) -> None:
    result = normalise_number(cell, "US")
    assert (result.e164, result.reason) == (None, reason)
    assert result.detail.startswith(detail_start), result.detail
    assert normalise_numbers(pd.Series([cell], dtype="str"), "US").result_at(0) == result


@pytest.mark.parametrize(
    ("cell", "e164", "region", "number_type", "zones"),
    [
        ("212-555-0199", "+12125550199", "US", "fixed_line_or_mobile", ("America/New_York",)),
        (
            "(907) 555-0150",
            "+19075550150",
            "US",
            "fixed_line_or_mobile",
            ("America/Adak", "America/Anchorage"),
        ),
        ("808 555 0150", "+18085550150", "US", "fixed_line_or_mobile", ("Pacific/Honolulu",)),
        ("602 555 0150", "+16025550150", "US", "fixed_line_or_mobile", ("America/Phoenix",)),
        ("416 555 0150", "+14165550150", "CA", "fixed_line_or_mobile", ("America/Toronto",)),
        # A Jamaican mobile: phonenumbers answers every +1 zone; campaigner narrows to Jamaica.
        ("+1 876 555 0150", "+18765550150", "JM", "mobile", ("America/Jamaica",)),
        ("+44 20 7946 0123", "+442079460123", "GB", "fixed_line", ("Europe/London",)),
        ("+61 491 570 156", "+61491570156", "AU", "mobile", None),
        # A satellite number: valid, but no time zone can be derived from it.
        ("+870 773 111 632", "+870773111632", "001", "mobile", ()),
    ],
)
def test_valid_numbers_carry_region_type_and_zones(
    cell: str, e164: str, region: str, number_type: str, zones: tuple[str, ...] | None
) -> None:
    result = normalise_number(cell, "US")
    assert (result.e164, result.region, result.number_type) == (e164, region, number_type)
    if zones is not None:
        assert result.timezones == zones
    else:
        assert "Australia/Sydney" in result.timezones


def test_toll_free_numbers_get_the_zones_of_their_region() -> None:
    result = normalise_number("1-800-555-0150", "US")
    assert result.number_type == "toll_free"
    assert {"America/New_York", "Pacific/Honolulu"} <= set(result.timezones)
    assert "Pacific/Guam" not in result.timezones  # Guam is +1 but not the US in zone.tab


def test_fictional_ranges_used_in_sample_data_are_valid() -> None:
    for area in ("212", "312", "303", "602", "415", "907", "808", "416", "604"):
        for line in ("0100", "0150", "0199"):
            assert phonenumbers.is_valid_number(phonenumbers.parse(f"+1{area}555{line}"))
    for uk in ("+442079460000", "+442079460999", "+441134960000", "+441614960999"):
        assert phonenumbers.is_valid_number(phonenumbers.parse(uk))
    # Ofcom's drama mobile range is not valid in phonenumbers' metadata: not used.
    assert not phonenumbers.is_valid_number(phonenumbers.parse("+447700900123"))


@pytest.mark.parametrize(
    ("cell", "repaired"),
    [
        ("4155550100.0", "4155550100"),
        ("4155550100.000", "4155550100"),
        ("4.155550100E9", "4155550100"),
        ("4.155550100e+09", "4155550100"),
        ("4.1555501005E9", "4.1555501005E9"),  # not a whole number: left for phonenumbers
        ("415.555.0100", "415.555.0100"),
        ("4155550100.5", "4155550100.5"),
    ],
)
def test_excel_repair_only_touches_whole_numbers_written_as_floats(
    cell: str, repaired: str
) -> None:
    assert repair_excel_number(cell) == repaired


def test_distinct_cells_are_normalised_once_and_nanp_cells_take_the_fast_path() -> None:
    cells = ["(415) 555-0100", "415.555.0100", "(415) 555-0100", "+44 20 7946 0123", "x"]
    result = normalise_numbers(pd.Series(cells, dtype="str"), "US")
    assert result.distinct == 4
    assert result.fast_path == 2
    assert list(result.frame["e164"]) == [SAN_FRANCISCO] * 3 + ["+442079460123", None]
    assert list(result.frame.index) == list(range(5))


# --- fast path == reference -----------------------------------------------------------------

_AREA_CODES = ["212", "415", "907", "808", "416", "876", "787", "268", "800", "900", "555", "123"]
_SEPARATORS = ["", " ", "-", ".", "  ", " - "]


@st.composite
def nanp_writings(draw: st.DrawFn) -> str:
    """A NANP-ish number written the many ways people and spreadsheets write them."""
    area = draw(st.sampled_from(_AREA_CODES) | st.from_regex(r"[0-9]{3}", fullmatch=True))
    exchange = draw(
        st.sampled_from(["555", "200", "911"]) | st.from_regex(r"[0-9]{3}", fullmatch=True)
    )
    line = draw(st.from_regex(r"[0-9]{3,5}", fullmatch=True))
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        # Excel's scientific display of the digits, sometimes with a digit lost.
        digits = (area + exchange + line)[: draw(st.integers(min_value=9, max_value=11))]
        return f"{digits[0]}.{digits[1:]}E{draw(st.sampled_from(['9', '+09', '+9', '10']))}"
    separator = draw(st.sampled_from(_SEPARATORS))
    if draw(st.booleans()):
        area = f"({area})"
    prefix = draw(st.sampled_from(["", "1", "1-", "+1", "+1 ", "+ 1 ", "011 1 ", "001 1 ", "+"]))
    text = f"{prefix}{area}{separator}{exchange}{separator}{line}"
    suffix = draw(st.sampled_from(["", "", ".0", ".00", " x12", " ext 7", "#3", ", 4", ")", "X"]))
    padding = draw(st.sampled_from(["", " ", "\t"]))
    return f"{padding}{text}{suffix}{padding}"


_messy_text = st.text(alphabet="0123456789 +-().x#eE,;/", max_size=18)
_other_countries = st.sampled_from(
    ["+44 20 7946 0123", "020 7946 0123", "+61 491 570 156", "+870 773 111 632", "+49 30 1234"]
)
_cells = st.lists(nanp_writings() | _messy_text | _other_countries, min_size=1, max_size=40)
_regions = st.sampled_from(["US", "CA", "JM", "PR", "GB", "DE"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=_cells, region=_regions)
def test_column_normalisation_equals_the_reference_for_every_cell(
    cells: list[str], region: str
) -> None:
    column = normalise_numbers(pd.Series(cells, dtype="str"), region)
    for position, cell in enumerate(cells):
        assert column.result_at(position) == normalise_number(cell, region), cell


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(cells=_cells, region=_regions)
def test_a_column_decided_in_parts_equals_the_reference_for_every_cell(
    monkeypatch: pytest.MonkeyPatch, cells: list[str], region: str
) -> None:
    # Large columns are split between threads; any column is, with the minimum lowered.
    monkeypatch.setattr(phone_column, "_NANP_PARALLEL_MIN_CELLS", 1)
    column = normalise_numbers(pd.Series(cells, dtype="str"), region)
    for position, cell in enumerate(cells):
        assert column.result_at(position) == normalise_number(cell, region), cell


@st.composite
def fast_shaped_nanp(draw: st.DrawFn) -> str:
    """A ten-digit NANP number (area and exchange 2-9xx) written only with fast-path characters."""
    digits = draw(st.from_regex(r"[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    separator = draw(st.sampled_from(_SEPARATORS))
    if draw(st.booleans()):
        area = f"({area}) "
    prefix = draw(st.sampled_from(["", "1", "1-", "+1", "+1 ", " +1"]))
    return f"{prefix}{area}{separator}{exchange}{separator}{line}"


@settings(max_examples=40, deadline=None)
@given(cells=st.lists(fast_shaped_nanp(), min_size=1, max_size=40))
def test_every_plainly_written_nanp_number_takes_the_fast_path(cells: list[str]) -> None:
    column = normalise_numbers(pd.Series(cells, dtype="str"), "US")
    assert column.fast_path == column.distinct == len(set(cells))
