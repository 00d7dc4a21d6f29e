"""Hanging up a campaign's calls in progress (`campaigner cancel --hang-up`).

Each call is stopped at Retell (`RetellClient.stop_call`), a few at a time and paced, so that
hundreds of calls in progress neither wait for one another nor burst past Retell's rate limit.
Nothing is written to the store here: a stopped call ends `manual_stopped` at Retell, and its
result comes home the way every result does, through a run's sync.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from campaigner.dialer.pacing import TokenBucket
from campaigner.retell import RetellClient, RetellError

__all__ = ["STOPS_IN_FLIGHT", "STOPS_PER_SECOND", "HangUps", "hang_up_calls"]

# Retell publishes no rate limit for stop-call. Ten a second ends a few hundred calls within a
# minute; a 429 is waited out by the client as for any read.
STOPS_PER_SECOND = 10.0
STOPS_IN_FLIGHT = 4


@dataclass(frozen=True)
class HangUps:
    """What stopping a set of calls came to."""

    stopped: int
    """Calls the stops ended."""
    already_ended: int
    """Calls that had ended before their stop arrived (the store had not seen it yet)."""


async def hang_up_calls(
    client: RetellClient,
    call_ids: Sequence[str],
    *,
    in_flight: int = STOPS_IN_FLIGHT,
    per_second: float = STOPS_PER_SECOND,
) -> HangUps:
    """Stop every call, with at most `in_flight` requests at once and `per_second` on average.

    The first error Retell or the network gives (after the client's own retries) cancels the
    stops not yet answered and is raised as it is: a stop sent twice is harmless, so the caller
    can simply stop the same calls again.
    """
    pacing = TokenBucket(per_second)
    waiting = iter(call_ids)
    answers: list[bool] = []

    async def stop_in_turn() -> None:
        # One iterator shared by every worker: each call is taken by exactly one of them.
        for call_id in waiting:
            await pacing.acquire()
            answers.append(await client.stop_call(call_id))

    try:
        async with asyncio.TaskGroup() as workers:
            for _ in range(min(in_flight, len(call_ids))):
                workers.create_task(stop_in_turn())
    except* RetellError as failed:
        # Workers that failed together met the same failure: one error, not a group of them.
        raise failed.exceptions[0] from None
    stopped = sum(answers)
    return HangUps(stopped=stopped, already_ended=len(answers) - stopped)
