"""Which of a campaign's other runs are alive, judged without comparing clocks.

Each run adds one to its lease row's `beat` every second (`campaigner.store.run_leases`). A
`LeaseWatch` remembers, for every other run, the beat it last saw and when it saw it change, on
this process's monotonic clock: a beat that has not moved for the lease time belongs to a run
that died, hangs or was paused. No wall clock is read, so runs whose clocks disagree, or a
clock that jumps, cannot make a live run look dead or a dead one look alive. A run on this
machine whose process is gone is stale at once.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from uuid import uuid4

__all__ = ["LeaseWatch", "new_run_owner"]


def new_run_owner() -> str:
    """A name for a run's lease, `host:pid:tag`, never used before."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"


def is_dead_local_run(owner: str) -> bool:
    """True for a run owner (`host:pid:tag`) on this machine whose process is gone."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class LeaseWatch:
    """The beats of the other runs' leases, and since when each has stood still."""

    def __init__(
        self, *, lease_seconds: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._lease_seconds = lease_seconds
        self._monotonic = monotonic
        # owner: (beat last seen, when it was first seen at that beat, whether it ever moved)
        self._seen: dict[str, tuple[int, float, bool]] = {}

    def observe(self, beats: Mapping[str, int]) -> None:
        """Take the other runs' beats as the store has them now."""
        now = self._monotonic()
        seen: dict[str, tuple[int, float, bool]] = {}
        for owner, beat in beats.items():
            before = self._seen.get(owner)
            if before is None:
                seen[owner] = (beat, now, False)
            elif before[0] != beat:
                seen[owner] = (beat, now, True)
            else:
                seen[owner] = before
        self._seen = seen

    def stale(self) -> dict[str, int]:
        """Runs to drop (owner: the beat that stood still): their beat has not moved for the
        lease time, or their process on this machine is gone."""
        now = self._monotonic()
        return {
            owner: beat
            for owner, (beat, since, _) in self._seen.items()
            if now - since >= self._lease_seconds or is_dead_local_run(owner)
        }

    def undecided(self) -> set[str]:
        """Runs not yet known to be alive (their beat has not moved since first seen) nor
        stale: watched for less than the lease time."""
        now = self._monotonic()
        return {
            owner
            for owner, (_, since, moved) in self._seen.items()
            if not moved and now - since < self._lease_seconds
        }
