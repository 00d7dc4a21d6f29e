"""Whether another run is alive, judged by its beat on our monotonic clock alone."""

from __future__ import annotations

import os
import socket

from campaigner.dialer.leases import LeaseWatch, new_run_owner

REMOTE = "elsewhere:1:aaaa"


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_beat_that_stands_still_for_the_lease_time_is_stale() -> None:
    ticks = Ticks()
    watch = LeaseWatch(lease_seconds=5, monotonic=ticks)

    watch.observe({REMOTE: 3})
    assert (watch.stale(), watch.undecided()) == ({}, {REMOTE})
    ticks.now = 4.9
    watch.observe({REMOTE: 3})
    assert watch.stale() == {}
    ticks.now = 5.0
    assert watch.stale() == {REMOTE: 3}
    assert watch.undecided() == set()


def test_a_moving_beat_is_alive_however_far_its_clock_is_off() -> None:
    ticks = Ticks()
    watch = LeaseWatch(lease_seconds=5, monotonic=ticks)

    for beat in range(10):
        watch.observe({REMOTE: beat})
        ticks.now += 1
    assert (watch.stale(), watch.undecided()) == ({}, set())


def test_runs_that_are_gone_from_the_store_are_forgotten() -> None:
    ticks = Ticks()
    watch = LeaseWatch(lease_seconds=5, monotonic=ticks)

    watch.observe({REMOTE: 1})
    watch.observe({})
    ticks.now = 10
    assert watch.stale() == {}


def test_a_run_of_this_machine_whose_process_is_gone_is_stale_at_once() -> None:
    watch = LeaseWatch(lease_seconds=5, monotonic=Ticks())
    alive = new_run_owner()
    gone = f"{socket.gethostname()}:{2**22 + 12345}:dead"

    watch.observe({alive: 1, gone: 1})

    assert alive.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    assert watch.stale() == {gone: 1}
