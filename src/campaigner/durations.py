"""Durations as campaign files write them: a number and a unit, `30s`, `10m`, `4h`, `1d`, `1h30m`.

    parse_duration("1h30m")                  # timedelta(seconds=5400)
    format_duration(timedelta(hours=4))      # "4h"

`Duration` is the pydantic field type that reads the one and writes the other.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

__all__ = ["LONGEST_DURATION", "Duration", "format_duration", "parse_duration"]

LONGEST_DURATION = timedelta(days=3650)
"""Ten years: longer than any delay or timeout means, and short enough that a time computed from
it never leaves the calendar (`now + delay` overflows beyond the year 9999)."""

_DURATION_RE = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_DURATION_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_MOST_DIGITS = 12


def parse_duration(value: object) -> timedelta:
    """Parse a duration such as `"30m"`, `"4h"`, `"1d"` or `"1h30m"` (units d, h, m, s)."""
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError(f"{format_duration(-value)} before zero is not a duration")
        return value
    text = value.strip().lower().replace(" ", "") if isinstance(value, str) else ""
    match = _DURATION_RE.fullmatch(text)
    if not text or match is None:
        raise ValueError(f"{value!r} is not a duration like '30m', '4h', '1d' or '1h30m'")
    seconds = sum(
        _count(part) * unit for part, (_, unit) in zip(match.groups(), _DURATION_UNITS, strict=True)
    )
    if seconds > LONGEST_DURATION.total_seconds():
        raise ValueError(
            f"{value!r} is longer than {format_duration(LONGEST_DURATION)}, "
            "the longest duration a campaign file may give"
        )
    return timedelta(seconds=seconds)


def _count(digits: str | None) -> int:
    """A count of one unit; a count with more digits than any duration up to the longest has
    stands for more than that (and Python converts at most 4,300 digits)."""
    significant = (digits or "0").lstrip("0") or "0"
    return int(significant) if len(significant) <= _MOST_DIGITS else 10**_MOST_DIGITS


def format_duration(value: timedelta) -> str:
    """Write a duration the way campaign files do: `timedelta(hours=4)` -> `"4h"`."""
    remaining = int(value.total_seconds())
    parts = []
    for unit, seconds in _DURATION_UNITS:
        count, remaining = divmod(remaining, seconds)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]
