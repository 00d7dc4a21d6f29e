"""Retell's clock as its Date headers give it: bounds for the age of an idempotency key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaigner.retell import ServerClock

OURS = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def clock() -> tuple[ServerClock, Ticks]:
    ticks = Ticks()
    return ServerClock(monotonic=ticks, wall=lambda: OURS), ticks


def test_without_a_date_our_wall_clock_stands_in() -> None:
    server, _ = clock()

    assert server.at_least() == OURS
    assert server.at_most(stated_within=2) == OURS + timedelta(seconds=1)


def test_the_latest_date_bounds_retells_time_while_it_is_fresh() -> None:
    server, ticks = clock()

    server.observe("Fri, 15 Jan 2027 08:00:00 GMT")
    stated = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)

    assert server.at_least() == stated
    assert server.at_most(stated_within=2) == stated + timedelta(seconds=1)
    ticks.now += 3
    assert server.at_most(stated_within=2) is None  # too old to bound anything
    assert server.at_least() == stated


def test_an_earlier_date_from_a_slower_answer_never_moves_it_back() -> None:
    server, _ = clock()

    server.observe("Fri, 15 Jan 2027 08:00:05 GMT")
    server.observe("Fri, 15 Jan 2027 08:00:01 GMT")

    assert server.at_least() == datetime(2027, 1, 15, 8, 0, 5, tzinfo=UTC)


def test_a_repeated_date_still_counts_as_fresh_and_garbage_is_ignored() -> None:
    server, ticks = clock()

    server.observe("Fri, 15 Jan 2027 08:00:00 GMT")
    ticks.now += 10
    server.observe("Fri, 15 Jan 2027 08:00:00 GMT")
    server.observe("not a date")
    server.observe(None)

    assert server.at_most(stated_within=2) == datetime(2027, 1, 15, 8, 0, 1, tzinfo=UTC)
