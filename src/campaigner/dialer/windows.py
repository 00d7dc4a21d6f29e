"""Calling windows in each recipient's local time, applied conservatively.

A contact whose number could be in several timezones (phonenumbers gives every candidate zone for
an area code that spans a boundary) may be called only when the campaign window is open in **every**
candidate zone. All arithmetic goes through `zoneinfo`, so DST changes move the window with the
recipient's clock rather than with UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from campaigner.campaign import CallWindow

__all__ = ["earliest_callable_at", "is_callable_at", "next_callable_at"]

# How far ahead `next_callable_at` looks: enough for a holiday season and a week of closed days.
SEARCH_HORIZON = timedelta(days=21)


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_callable_at(window: CallWindow, timezones: Sequence[str], moment: datetime) -> bool:
    """True when a call may start at `moment` (aware) for a contact in any of `timezones`."""
    if not timezones:
        return False
    return all(window.allows(moment.astimezone(_zone(name))) for name in timezones)


def _window_openings(window: CallWindow, zone: str, after: datetime) -> list[datetime]:
    """UTC instants at which the window opens in `zone`, from the local day of `after` on."""
    tz = _zone(zone)
    first_day = after.astimezone(tz).date()
    openings = []
    for offset in range((SEARCH_HORIZON.days) + 1):
        local_start = datetime.combine(first_day + timedelta(days=offset), window.start, tzinfo=tz)
        openings.append(local_start.astimezone(UTC))
    return openings


def next_callable_at(
    window: CallWindow, timezones: Sequence[str], now: datetime
) -> datetime | None:
    """The first instant at or after `now` when the contact may be called, or None if none is
    within three weeks (a window that never opens, or holidays all along).

    The intersection of the zones' windows can only open at `now` or where one zone's window opens,
    so those are the only instants to test.
    """
    if not timezones:
        return None
    if is_callable_at(window, timezones, now):
        return now
    candidates = sorted(
        {moment for zone in timezones for moment in _window_openings(window, zone, now)}
    )
    for moment in candidates:
        if moment > now and is_callable_at(window, timezones, moment):
            return moment
    return None


def earliest_callable_at(
    window: CallWindow, zone_sets: Iterable[Sequence[str]], now: datetime
) -> datetime | None:
    """The first instant at or after `now` when a contact of any of these zone sets may be
    called, or None if none can be within three weeks."""
    return min(
        (
            moment
            for zones in zone_sets
            if (moment := next_callable_at(window, zones, now)) is not None
        ),
        default=None,
    )
