"""Batch mode's pure parts: grouping due contacts, and the window and trigger of each batch."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from campaigner import store
from campaigner.campaign import CallWindow, Weekday
from campaigner.dialer.batching import (
    batch_schedule,
    group_contacts,
    last_closed_opening,
    window_is_open,
    window_opens_by,
)
from campaigner.store import Contact

NY = "America/New_York"
CHICAGO = "America/Chicago"
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
# Monday 2026-01-05, 15:00 UTC: 10:00 in New York, 09:00 in Chicago.
MONDAY_15_UTC = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


def contact(contact_id: int, zones: tuple[str, ...], variant: str | None = "A") -> Contact:
    return Contact(
        id=contact_id,
        campaign_id=1,
        source_file_id=1,
        row_number=contact_id,
        phone_e164=f"+1212555{contact_id:04d}",
        timezones=list(zones),
        timezone_key=store.contacts.timezone_key(zones),
        dynamic_variables={},
        extra_metadata={},
        original={},
        variant=variant,
        next_attempt_at=MONDAY_15_UTC,
    )


def test_contacts_are_grouped_by_zone_set_and_variant_then_chunked() -> None:
    contacts = [contact(n, (NY,)) for n in range(5)]
    contacts += [contact(10, (NY,), "B"), contact(11, (CHICAGO, NY)), contact(12, (NY, CHICAGO))]

    groups = group_contacts(contacts, size=2)

    shapes = [(g.zones, g.variant, [c.id for c in g.contacts]) for g in groups]
    assert shapes == [
        ((NY,), "A", [0, 1]),
        ((NY,), "A", [2, 3]),
        ((NY,), "A", [4]),
        ((NY,), "B", [10]),
        ((CHICAGO, NY), "A", [11, 12]),
    ]


def test_a_batch_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one task"):
        group_contacts([contact(1, (NY,))], size=0)


def test_open_window_starts_now_in_the_zones_own_hours_and_days() -> None:
    schedule = batch_schedule(CallWindow(start=time(9), end=time(20)), [NY], MONDAY_15_UTC)

    assert schedule is not None
    assert schedule.trigger_at is None
    window = schedule.call_time_window.model_dump(exclude_none=True)
    assert window == {
        "windows": [{"start": 540, "end": 1200}],
        "timezone": NY,
        "day": WEEKDAYS,
    }


def test_a_closed_window_triggers_at_its_next_opening() -> None:
    night = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)  # Sunday 22:00 in New York
    schedule = batch_schedule(CallWindow(start=time(9), end=time(20)), [NY], night)

    assert schedule is not None
    assert schedule.trigger_at == datetime(2026, 1, 5, 14, 0, tzinfo=UTC)  # Monday 09:00 NY


def test_several_candidate_zones_get_the_hours_open_in_all_of_them() -> None:
    # 09:00-20:00 in Chicago and in New York is 09:00-19:00 on Chicago's clock.
    schedule = batch_schedule(CallWindow(start=time(9), end=time(20)), [NY, CHICAGO], MONDAY_15_UTC)

    assert schedule is not None
    assert schedule.timezone == CHICAGO
    assert schedule.call_time_window.windows[0].model_dump() == {"start": 540, "end": 1140}
    assert schedule.trigger_at is None


def test_zones_with_different_dst_dates_narrow_the_window_for_the_whole_week() -> None:
    # 2026-03-08: the US moves its clocks, Europe waits until 2026-03-29; London is 4 h ahead of
    # New York before, 5 h after. Only hours open in both on every day of the week remain.
    friday = datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
    schedule = batch_schedule(
        CallWindow(start=time(9), end=time(20)), ["Europe/London", NY], friday
    )

    assert schedule is not None
    assert schedule.timezone == NY
    # New York 09:00-20:00; London 09:00-20:00 is New York 04:00-15:00 then 05:00-16:00.
    assert schedule.call_time_window.windows[0].model_dump() == {"start": 540, "end": 900}


def test_holidays_of_the_coming_week_are_left_out_and_a_holiday_today_waits() -> None:
    window = CallWindow(
        start=time(9),
        end=time(20),
        days=[Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI],
        holidays=[date(2026, 1, 5), date(2026, 1, 8)],  # this Monday and this Thursday
    )

    schedule = batch_schedule(window, [NY], MONDAY_15_UTC)

    assert schedule is not None
    assert schedule.trigger_at == datetime(2026, 1, 6, 14, 0, tzinfo=UTC)  # Tuesday 09:00 NY
    # The week from Tuesday the 6th: Thursday the 8th is a holiday, Monday the 12th is not.
    assert schedule.call_time_window.day == ["Monday", "Tuesday", "Wednesday", "Friday"]


def test_a_window_that_never_opens_gives_no_schedule() -> None:
    window = CallWindow(start=time(9), end=time(20), holiday_calendar=None, days=[Weekday.SAT])
    every_saturday = [date(2026, 1, 10 + 7 * week) for week in range(4)]
    closed = window.model_copy(update={"holidays": every_saturday})

    assert batch_schedule(closed, [NY], MONDAY_15_UTC) is None
    assert batch_schedule(window, [], MONDAY_15_UTC) is None


def test_window_is_open_reads_the_window_as_retell_does() -> None:
    sent = {"windows": [{"start": 540, "end": 1200}], "timezone": NY, "day": ["Monday"]}

    assert window_is_open(sent, MONDAY_15_UTC)
    assert not window_is_open(sent, datetime(2026, 1, 6, 15, 0, tzinfo=UTC))  # Tuesday
    assert not window_is_open(sent, datetime(2026, 1, 6, 1, 0, tzinfo=UTC))  # Monday 20:00 NY
    assert window_is_open({"windows": [{"start": 0, "end": 1440}]}, MONDAY_15_UTC)


def test_a_window_that_opens_within_a_span_is_found() -> None:
    all_day = {"windows": [{"start": 0, "end": 1439}], "timezone": NY}
    last_minute = datetime(2026, 1, 6, 4, 59, 30, tzinfo=UTC)  # Monday 23:59:30 in New York

    assert not window_is_open(all_day, last_minute)
    assert window_opens_by(all_day, last_minute, last_minute + timedelta(minutes=1))
    assert not window_opens_by(all_day, last_minute, last_minute + timedelta(seconds=20))


def test_a_dst_change_weeks_ahead_narrows_the_window_too() -> None:
    # Retell repeats the window every week while a batch dials. On 2027-03-01 Denver and Phoenix
    # share an offset; from 2027-03-14 Denver is an hour ahead, so 09:00 in Denver would be 08:00
    # in Phoenix: the window on Denver's clock must start at 10:00.
    monday = datetime(2027, 3, 1, 18, 0, tzinfo=UTC)
    schedule = batch_schedule(
        CallWindow(start=time(9), end=time(17)), ["America/Denver", "America/Phoenix"], monday
    )

    assert schedule is not None
    assert schedule.timezone == "America/Denver"
    assert schedule.call_time_window.windows[0].model_dump() == {"start": 600, "end": 1020}


def test_the_last_closed_opening_is_the_latest_span_ended_on_a_listed_day() -> None:
    sent = {
        "windows": [{"start": 540, "end": 720}, {"start": 780, "end": 1020}],
        "timezone": NY,
        "day": ["Monday", "Wednesday"],
    }
    monday_0900 = MONDAY_15_UTC - timedelta(hours=1)
    monday_1200, monday_1300 = monday_0900 + timedelta(hours=3), monday_0900 + timedelta(hours=4)
    monday_1700 = monday_0900 + timedelta(hours=8)
    last_wednesday = timedelta(days=5)

    assert last_closed_opening(sent, MONDAY_15_UTC) == (
        monday_1300 - last_wednesday,
        monday_1700 - last_wednesday,
    )
    assert last_closed_opening(sent, monday_1200) == (monday_0900, monday_1200)
    assert last_closed_opening(sent, monday_1700 - timedelta(minutes=1)) == (
        monday_0900,
        monday_1200,
    )
    assert last_closed_opening(sent, monday_1700) == (monday_1300, monday_1700)
    # Tuesday is not a day of the window: Monday's afternoon is still the last opening.
    assert last_closed_opening(sent, monday_1700 + timedelta(days=1)) == (
        monday_1300,
        monday_1700,
    )
