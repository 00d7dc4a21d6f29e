"""Phone cells to E.164 numbers, validated, with region, number type and candidate time zones.

Two functions give the same answers:

- `normalise_number(text, default_region)` normalises one cell: campaigner's cleaning rules, then
  phonenumbers. It is the reference.
- `normalise_numbers(cells, default_region)` (in `campaigner.contacts.phone_column`) normalises
  a column. Each distinct cell is normalised once; the dominant case (a NANP number written with
  digits, spaces, `-`, `.`, brackets and an optional leading `+`) is decided by vectorised
  matching against phonenumbers' own metadata (`campaigner.contacts.nanp`); every other distinct
  cell goes through `normalise_number`. Property tests hold the two to identical results.

Cleaning rules applied before phonenumbers (campaigner's, documented in docs/ingest.md):

- a blank cell is `missing_number`;
- a cell that is exactly a number Excel mangled is repaired: `4155550100.0` -> `4155550100`,
  `4.155550100E9` -> `4155550100` (scientific notation that denotes a whole number);
- an extension suffix (`x12`, `ext. 12`, `extension 12`, `#12`, `;ext=12`) is dropped: the call
  goes to the main number, since an AI agent cannot dial an extension; the original cell is kept
  with the contact;
- any letter left after that makes the cell `unparseable`: vanity numbers (`1-800-FLOWERS`), an O
  typed for a 0, or a note in the cell are not guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult
from phonenumbers.timezone import time_zones_for_number

from campaigner.contacts.reasons import RejectReason
from campaigner.contacts.timezones import Zones, effective_zones

__all__ = [
    "NUMBER_TYPE_NAMES",
    "NumberResult",
    "describe_invalid_number",
    "extension_suffix_pattern",
    "normalise_number",
    "number_type_name",
    "repair_excel_number",
]

EXCEL_ZERO_FRACTION = r"[0-9]+\.0+"
EXCEL_SCIENTIFIC = r"[0-9](?:\.[0-9]+)?[eE]\+?[0-9]{1,2}"
_EXCEL_ZERO_FRACTION_RE = re.compile(EXCEL_ZERO_FRACTION)
_EXCEL_SCIENTIFIC_RE = re.compile(EXCEL_SCIENTIFIC)


def extension_suffix_pattern(space: str) -> str:
    """The extension suffix campaigner drops (case-insensitive), `space` being its whitespace."""
    return (
        rf"{space}*(?:[,;]{space}*)?(?:extension|ext\.?|x|#){space}*[:=]?{space}*"
        rf"[0-9]{{1,7}}{space}*#?{space}*$"
    )


_EXTENSION_RE = re.compile(extension_suffix_pattern(r"\s"), re.IGNORECASE)
_LETTER_RE = re.compile(r"[^\W\d_]")

NUMBER_TYPE_NAMES: dict[int, str] = {
    value: name.lower()
    for name, value in vars(PhoneNumberType).items()
    if name.isupper() and isinstance(value, int)
}

_PARSE_ERROR_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: (
        RejectReason.UNPARSEABLE,
        "invalid_country_code: not a known country calling code",
    ),
    NumberParseException.NOT_A_NUMBER: (RejectReason.UNPARSEABLE, "not_a_number"),
    NumberParseException.TOO_SHORT_AFTER_IDD: (
        RejectReason.INVALID_NUMBER,
        "too_short: too few digits after the international prefix",
    ),
    NumberParseException.TOO_SHORT_NSN: (RejectReason.INVALID_NUMBER, "too_short: too few digits"),
    NumberParseException.TOO_LONG: (RejectReason.INVALID_NUMBER, "too_long: too many digits"),
}

_POSSIBILITY_DETAILS = {
    ValidationResult.IS_POSSIBLE: "not_assigned: {number} is not in any number range of {where}",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: (
        "too_short: {number} is a local number in {where}; add the area code"
    ),
    ValidationResult.INVALID_COUNTRY_CODE: "invalid_country_code: {number}",
    ValidationResult.TOO_SHORT: "too_short: {number} has too few digits for {where}",
    ValidationResult.INVALID_LENGTH: "invalid_length: {number} has a wrong length for {where}",
    ValidationResult.TOO_LONG: "too_long: {number} has too many digits for {where}",
}


def number_type_name(number_type: int) -> str:
    """A phonenumbers `PhoneNumberType` as campaigner writes it, e.g. `fixed_line_or_mobile`."""
    return NUMBER_TYPE_NAMES[number_type]


@dataclass(frozen=True, slots=True)
class NumberResult:
    """The outcome for one phone cell: a valid number (reason None) or a rejection.

    `timezones` may be empty for a valid number whose zone cannot be derived from the number.
    """

    e164: str | None
    region: str | None
    number_type: str | None
    timezones: Zones
    reason: RejectReason | None
    detail: str

    @classmethod
    def rejected(cls, reason: RejectReason, detail: str) -> NumberResult:
        """A rejection with its reason code and a detail a person can act on."""
        return cls(None, None, None, (), reason, detail)


def describe_invalid_number(written: str, country_code: int, possibility: int) -> str:
    """The detail of an invalid number, from phonenumbers' `is_possible_number_with_reason`."""
    where = f"{phonenumbers.region_code_for_country_code(country_code)} (+{country_code})"
    return _POSSIBILITY_DETAILS[possibility].format(number=written, where=where)


def repair_excel_number(text: str) -> str:
    """Undo Excel's display of a phone number as a float; other text is returned unchanged."""
    if _EXCEL_ZERO_FRACTION_RE.fullmatch(text):
        return text.partition(".")[0]
    if _EXCEL_SCIENTIFIC_RE.fullmatch(text):
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover -- the pattern only admits valid decimals
            return text
        if value == value.to_integral_value():
            return str(int(value))
    return text


def normalise_number(text: str, default_region: str) -> NumberResult:
    """Normalise one phone cell: campaigner's cleaning rules, then phonenumbers (the reference)."""
    stripped = text.strip()
    if not stripped:
        return NumberResult.rejected(RejectReason.MISSING_NUMBER, "the phone cell is empty")
    cleaned = _EXTENSION_RE.sub("", repair_excel_number(stripped))
    letter = _LETTER_RE.search(cleaned)
    if letter:
        return NumberResult.rejected(
            RejectReason.UNPARSEABLE,
            f"contains letters ({letter.group()!r}): write the number with digits only",
        )
    try:
        parsed = phonenumbers.parse(cleaned, default_region)
    except NumberParseException as error:
        reason, detail = _PARSE_ERROR_REASONS[error.error_type]
        return NumberResult.rejected(reason, detail)
    country_code = int(parsed.country_code or 0)
    if not phonenumbers.is_valid_number(parsed):
        written = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        possibility = phonenumbers.is_possible_number_with_reason(parsed)
        detail = describe_invalid_number(written, country_code, possibility)
        return NumberResult.rejected(RejectReason.INVALID_NUMBER, detail)
    region = phonenumbers.region_code_for_number(parsed)
    zones = effective_zones(tuple(time_zones_for_number(parsed)), country_code, region)
    return NumberResult(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        region=region,
        number_type=number_type_name(phonenumbers.number_type(parsed)),
        timezones=zones,
        reason=None,
        detail="",
    )
