"""The vectorised fast path of phone normalisation: NANP numbers, decided exactly as phonenumbers.

phonenumbers parses about 37,000 numbers a second on one core; a million-row file of mostly
distinct numbers needs better. Most contact files are NANP numbers (+1) written with digits and
separators, and for those every step phonenumbers takes can be done on a whole column at once:

1. shape: the cell, after campaigner's Excel repair and extension rule, holds only ASCII digits,
   spaces, `-`, `.`, brackets and at most one leading `+`: nothing phonenumbers would read
   differently. Its digits are `1` + ten digits with a `+`, or (when the default region
   is itself NANP) ten digits optionally after a `1` trunk prefix. The ten-digit national number
   starts with 2-9, so neither an international prefix (011) nor a trunk prefix can be read into it.
2. region: the NANP regions in phonenumbers' own order; a region with `leading_digits` claims the
   numbers that start with them, a region without claims the numbers its patterns give a type
   (`region_code_for_number`).
3. type: that region's patterns in the order of phonenumbers' `_number_type_helper`.
4. time zones: the longest prefix of the E.164 digits found in phonenumbers' time zone table for
   geographic types, the calling-code entry otherwise (`time_zones_for_number`), then campaigner's
   `effective_zones` rule.

A number no NANP region gives a type is invalid, with the detail `normalise_number` would give
(for ten digits phonenumbers always finds the length possible). Every other cell (other countries,
other writings, letters, extensions) goes through the reference `normalise_number`.
The patterns are phonenumbers' metadata, matched with `pandas.Series.str.fullmatch`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt
import pandas as pd
import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from campaigner.contacts.phones import (
    EXCEL_SCIENTIFIC,
    EXCEL_ZERO_FRACTION,
    NUMBER_TYPE_NAMES,
    describe_invalid_number,
    extension_suffix_pattern,
    repair_excel_number,
)
from campaigner.contacts.reasons import RejectReason
from campaigner.contacts.timezones import effective_zones

__all__ = ["NanpDecision", "decide_nanp_numbers"]

NANP_CODE = 1
NATIONAL_LENGTH = 10
# Long cells go to the reference path: phonenumbers refuses input over 250 characters.
_LONGEST_FAST_CELL = 64
_FAST_SHAPE = r" *\+?[0-9 ().\-]*"
_PLUS_FIRST = r" *\+"
_EXTENSION_SUFFIX_ASCII = "(?i)" + extension_suffix_pattern(" ")
_EXTENSION_ASCII_RE = re.compile(extension_suffix_pattern(" "), re.IGNORECASE)
_PLUS_DIGITS = r"1[2-9][0-9]{9}"
_NATIONAL_DIGITS = r"1?[2-9][0-9]{9}"
_SPECIAL_TYPES = (
    ("premium_rate", PhoneNumberType.PREMIUM_RATE),
    ("toll_free", PhoneNumberType.TOLL_FREE),
    ("shared_cost", PhoneNumberType.SHARED_COST),
    ("voip", PhoneNumberType.VOIP),
    ("personal_number", PhoneNumberType.PERSONAL_NUMBER),
    ("pager", PhoneNumberType.PAGER),
    ("uan", PhoneNumberType.UAN),
    ("voicemail", PhoneNumberType.VOICEMAIL),
)

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
ObjectArray = npt.NDArray[np.object_]


@dataclass(frozen=True, slots=True)
class NanpDecision:
    """The cells the fast path decided: their positions in the input and their results.

    `columns` maps each `NumberResult` field name to an object array aligned with `positions`.
    """

    positions: IntArray
    columns: dict[str, ObjectArray]


def decide_nanp_numbers(cells: pd.Series, default_region: str) -> NanpDecision:
    """Decide the NANP-shaped cells among distinct `cells` (str dtype); leave the rest undecided."""
    national, positions = _national_numbers(cells, default_region)
    codes, distinct_values = pd.factorize(national, sort=False)
    columns = _results(pd.Series(distinct_values, dtype="str"))
    return NanpDecision(
        positions=positions, columns={name: values[codes] for name, values in columns.items()}
    )


def _results(national: pd.Series) -> dict[str, ObjectArray]:
    """`NumberResult` fields, as columns, for distinct ten-digit NANP national numbers."""
    size = len(national)
    regions, types = _regions_and_types(national)
    valid = types != PhoneNumberType.UNKNOWN
    written = ("+1" + national).to_numpy(dtype=object)
    columns = {
        name: np.full(size, None, dtype=object)
        for name in ("e164", "region", "number_type", "timezones", "reason")
    }
    columns["detail"] = np.full(size, "", dtype=object)
    columns["e164"][valid] = written[valid]
    columns["region"][valid] = regions[valid]
    columns["number_type"][valid] = _type_names()[types[valid]]
    columns["timezones"][valid] = _time_zones(written[valid], regions[valid], types[valid])
    possibility = _ten_digit_possibility()
    for position in np.flatnonzero(~valid):
        columns["timezones"][position] = ()
        columns["reason"][position] = RejectReason.INVALID_NUMBER
        columns["detail"][position] = describe_invalid_number(
            written[position], NANP_CODE, possibility
        )
    return columns


@cache
def _ten_digit_possibility() -> int:
    """`is_possible_number_with_reason` of any ten-digit +1 number: it looks only at the length."""
    example = phonenumbers.PhoneNumber(country_code=NANP_CODE, national_number=2_000_000_000)
    possibility: int = phonenumbers.is_possible_number_with_reason(example)
    return possibility


def _national_numbers(cells: pd.Series, default_region: str) -> tuple[pd.Series, IntArray]:
    """The ten-digit national numbers of the cells that have the fast shape, and their positions."""
    cleaned = _apply_cleaning_rules(cells)
    shaped = (cleaned.str.len() <= _LONGEST_FAST_CELL) & cleaned.str.fullmatch(_FAST_SHAPE)
    shaped_positions = np.flatnonzero(shaped.to_numpy(dtype=bool))
    shaped_cells = cleaned.iloc[shaped_positions]
    digits = shaped_cells.str.replace(r"[^0-9]", "", regex=True)
    with_plus = shaped_cells.str.match(_PLUS_FIRST).to_numpy(dtype=bool)
    candidate = with_plus & digits.str.fullmatch(_PLUS_DIGITS).to_numpy(dtype=bool)
    if _reads_national_numbers_as_nanp(default_region):
        national = digits.str.fullmatch(_NATIONAL_DIGITS).to_numpy(dtype=bool)
        candidate |= ~with_plus & national
    chosen = np.flatnonzero(candidate)
    national_numbers = digits.iloc[chosen].str.slice(-NATIONAL_LENGTH).reset_index(drop=True)
    return national_numbers, shaped_positions[chosen]


def _apply_cleaning_rules(cells: pd.Series) -> pd.Series:
    """campaigner's Excel repair and extension rule, on the cells a vectorised pattern flags.

    The patterns allow only the ASCII space as whitespace; a cell they miss keeps its text, fails
    the fast shape and is left to the reference path.
    """
    excel = cells.str.fullmatch(f" *(?:{EXCEL_ZERO_FRACTION}|{EXCEL_SCIENTIFIC}) *")
    extension = cells.str.contains(_EXTENSION_SUFFIX_ASCII, regex=True)
    touched = np.flatnonzero((excel | extension).to_numpy(dtype=bool))
    if not len(touched):
        return cells
    is_extension = extension.to_numpy(dtype=bool)[touched]
    cleaned = cells.copy()
    cleaned.iloc[touched] = [
        _EXTENSION_ASCII_RE.sub("", cell) if extension_cell else repair_excel_number(cell.strip())
        for cell, extension_cell in zip(cells.iloc[touched].tolist(), is_extension, strict=True)
    ]
    return cleaned


@cache
def _reads_national_numbers_as_nanp(default_region: str) -> bool:
    """True when phonenumbers reads `[1]NXXNXXXXXX` without `+` in this region as +1 NXXNXXXXXX."""
    metadata = PhoneMetadata.metadata_for_region(default_region)
    return (
        metadata is not None
        and metadata.general_desc is not None
        and metadata.country_code == NANP_CODE
        and metadata.national_prefix_for_parsing == "1"
        and not metadata.national_prefix_transform_rule
        and metadata.international_prefix == "011"
        # "1" + ten digits is then too long to be national, so phonenumbers reads the 1 as +1.
        and max(metadata.general_desc.possible_length) == NATIONAL_LENGTH
    )


def _regions_and_types(national: pd.Series) -> tuple[ObjectArray, IntArray]:
    """Each number's region (None if no region claims it) and phonenumbers type in that region."""
    regions = np.full(len(national), None, dtype=object)
    types = np.full(len(national), PhoneNumberType.UNKNOWN, dtype=np.int64)
    unclaimed = np.arange(len(national))
    for region in COUNTRY_CODE_TO_REGION_CODE[NANP_CODE]:
        if not len(unclaimed):
            break
        metadata = PhoneMetadata.metadata_for_region(region)
        assert metadata is not None, f"phonenumbers lists {region} under +1 without metadata"
        numbers = national.iloc[unclaimed]
        if metadata.leading_digits is not None:
            claimed = numbers.str.match(metadata.leading_digits).to_numpy(dtype=bool)
            region_types = _types_in_region(numbers.iloc[np.flatnonzero(claimed)], metadata)
            types[unclaimed[claimed]] = region_types
        else:
            region_types = _types_in_region(numbers, metadata)
            claimed = region_types != PhoneNumberType.UNKNOWN
            types[unclaimed[claimed]] = region_types[claimed]
        regions[unclaimed[claimed]] = region
        unclaimed = unclaimed[~claimed]
    return regions, types


def _types_in_region(numbers: pd.Series, metadata: PhoneMetadata) -> IntArray:
    """phonenumbers' `_number_type_helper` over a column of ten-digit national numbers."""
    types = np.full(len(numbers), PhoneNumberType.UNKNOWN, dtype=np.int64)
    open_ = np.flatnonzero(_matches(numbers, metadata.general_desc))
    for attribute, number_type in _SPECIAL_TYPES:
        hit = _matches(numbers.iloc[open_], getattr(metadata, attribute))
        types[open_[hit]] = number_type
        open_ = open_[~hit]
    fixed = _matches(numbers.iloc[open_], metadata.fixed_line)
    fixed_positions = open_[fixed]
    if metadata.same_mobile_and_fixed_line_pattern:
        types[fixed_positions] = PhoneNumberType.FIXED_LINE_OR_MOBILE
    else:
        also_mobile = _matches(numbers.iloc[fixed_positions], metadata.mobile)
        types[fixed_positions] = np.where(
            also_mobile, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.FIXED_LINE
        )
        rest = open_[~fixed]
        types[rest[_matches(numbers.iloc[rest], metadata.mobile)]] = PhoneNumberType.MOBILE
    return types


def _matches(numbers: pd.Series, desc: phonenumbers.PhoneNumberDesc | None) -> BoolArray:
    """phonenumbers' `_is_number_matching_desc` for ten-digit numbers, vectorised."""
    if desc is None or not desc.national_number_pattern or not len(numbers):
        return np.zeros(len(numbers), dtype=bool)
    if desc.possible_length and NATIONAL_LENGTH not in desc.possible_length:
        return np.zeros(len(numbers), dtype=bool)
    return numbers.str.fullmatch(desc.national_number_pattern).to_numpy(dtype=bool)


def _time_zones(e164: ObjectArray, regions: ObjectArray, types: IntArray) -> ObjectArray:
    """`effective_zones(time_zones_for_number(...))` for valid NANP numbers, by prefix."""
    digits = pd.Series(e164, dtype="str").str.slice(1)
    keys = np.full(len(e164), str(NANP_CODE), dtype=object)
    open_ = np.flatnonzero(np.isin(types, _geographic_types()))
    for length, prefixes in _nanp_zone_prefixes_by_length():
        heads = digits.iloc[open_].str.slice(0, length)
        found = heads.isin(prefixes).to_numpy(dtype=bool)
        keys[open_[found]] = heads.to_numpy(dtype=object)[found]
        open_ = open_[~found]
    # Few distinct (prefix, region) pairs: apply campaigner's zone rule once per pair.
    key_codes, key_values = pd.factorize(keys)
    region_codes, region_values = pd.factorize(regions)
    pair_of, pairs = pd.factorize(key_codes * len(region_values) + region_codes)
    pair_zones = np.empty(len(pairs), dtype=object)
    for index, pair in enumerate(pairs):
        key_code, region_code = divmod(int(pair), len(region_values))
        key, region = key_values[key_code], region_values[region_code]
        pair_zones[index] = effective_zones(tuple(TIMEZONE_DATA[key]), NANP_CODE, region)
    zones: ObjectArray = pair_zones[pair_of]
    return zones


@cache
def _geographic_types() -> IntArray:
    return np.array(
        [
            number_type
            for number_type in NUMBER_TYPE_NAMES
            if phonenumbers.is_number_type_geographical(number_type, NANP_CODE)
        ],
        dtype=np.int64,
    )


@cache
def _type_names() -> ObjectArray:
    """`NUMBER_TYPE_NAMES` as a table indexed by type value."""
    names = np.empty(max(NUMBER_TYPE_NAMES) + 1, dtype=object)
    for value, name in NUMBER_TYPE_NAMES.items():
        names[value] = name
    return names


@cache
def _nanp_zone_prefixes_by_length() -> tuple[tuple[int, frozenset[str]], ...]:
    """The +1 keys of phonenumbers' time zone table, longest first, grouped by length."""
    prefixes = [key for key in TIMEZONE_DATA if key.startswith(str(NANP_CODE))]
    return tuple(
        (length, frozenset(key for key in prefixes if len(key) == length))
        for length in range(TIMEZONE_LONGEST_PREFIX, 0, -1)
        if any(len(key) == length for key in prefixes)
    )
