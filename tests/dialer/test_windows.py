from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from campaigner.campaign import CallWindow, Weekday
from campaigner.dialer.windows import is_callable_at, next_callable_at

WEEKDAYS_9_TO_8 = CallWindow()  # mon-fri 09:00-20:00


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "open_utc_hour"),
    [
        ("America/New_York", 14),  # EST in January: UTC-5
        ("America/Chicago", 15),
        ("America/Denver", 16),
        ("America/Phoenix", 16),
        ("America/Los_Angeles", 17),
        ("America/Anchorage", 18),
        ("Pacific/Honolulu", 19),
    ],
)
def test_window_opens_at_local_nine_in_every_us_zone(zone: str, open_utc_hour: int) -> None:
    before = utc(2026, 1, 14, open_utc_hour - 1, 59)
    at = utc(2026, 1, 14, open_utc_hour, 0)
    assert not is_callable_at(WEEKDAYS_9_TO_8, [zone], before)
    assert is_callable_at(WEEKDAYS_9_TO_8, [zone], at)
    assert next_callable_at(WEEKDAYS_9_TO_8, [zone], before) == at


def test_end_is_exclusive() -> None:
    ny_eight_pm = utc(2026, 1, 14, 1, 0).replace(day=15)  # 20:00 EST on the 14th
    assert not is_callable_at(WEEKDAYS_9_TO_8, ["America/New_York"], ny_eight_pm)


def test_ambiguous_number_needs_every_zone_open() -> None:
    zones = ["America/New_York", "America/Chicago"]
    ny_open_chicago_not = utc(2026, 1, 14, 14, 30)  # 09:30 NY, 08:30 Chicago
    assert not is_callable_at(WEEKDAYS_9_TO_8, zones, ny_open_chicago_not)
    assert next_callable_at(WEEKDAYS_9_TO_8, zones, ny_open_chicago_not) == utc(2026, 1, 14, 15)
    # At the other end New York closes first.
    assert not is_callable_at(WEEKDAYS_9_TO_8, zones, utc(2026, 1, 15, 1, 30))


def test_window_follows_dst_in_local_time() -> None:
    zone = ["America/New_York"]
    # The Monday after the spring change (2026-03-08): EDT, UTC-4, so 09:00 is 13:00 UTC.
    assert not is_callable_at(WEEKDAYS_9_TO_8, zone, utc(2026, 3, 9, 12, 59))
    assert is_callable_at(WEEKDAYS_9_TO_8, zone, utc(2026, 3, 9, 13, 0))
    # The Friday before it: EST, UTC-5.
    assert not is_callable_at(WEEKDAYS_9_TO_8, zone, utc(2026, 3, 6, 13, 30))
    # Across the autumn change (2026-11-01), the next opening is Monday 09:00 EST = 14:00 UTC.
    saturday = utc(2026, 10, 31, 15, 0)
    assert next_callable_at(WEEKDAYS_9_TO_8, zone, saturday) == utc(2026, 11, 2, 14, 0)


def test_window_opening_inside_a_dst_gap_still_opens() -> None:
    small_hours = CallWindow(
        days=list(Weekday), start=time(2, 30), end=time(4, 0), allow_outside_federal_hours=True
    )
    # 2026-03-08 02:30 does not exist in New York; the window opens when clocks show 03:30.
    opening = next_callable_at(small_hours, ["America/New_York"], utc(2026, 3, 8, 5, 0))
    assert opening == utc(2026, 3, 8, 7, 30)


def test_holidays_and_closed_days_are_skipped() -> None:
    window = CallWindow(holidays=[date(2026, 12, 25)])
    thursday_evening = utc(2026, 12, 25, 2, 0)  # 21:00 on the 24th in New York
    # The 25th is a holiday and the 26th-27th a weekend: next is Monday the 28th at 09:00 EST.
    assert next_callable_at(window, ["America/New_York"], thursday_evening) == utc(
        2026, 12, 28, 14, 0
    )


def test_holiday_calendar_from_the_holidays_package() -> None:
    window = CallWindow(holiday_calendar="US")
    july_fourth_2025 = utc(2025, 7, 4, 15, 0)  # a Friday
    assert not is_callable_at(window, ["America/New_York"], july_fourth_2025)


def test_window_that_never_opens_gives_none() -> None:
    window = CallWindow(days=[Weekday.MON], holidays=[date(2026, 1, d) for d in (5, 12, 19, 26)])
    assert next_callable_at(window, ["America/New_York"], utc(2026, 1, 1)) is None
    assert next_callable_at(WEEKDAYS_9_TO_8, [], utc(2026, 1, 1)) is None
