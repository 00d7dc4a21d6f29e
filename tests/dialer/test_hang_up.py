"""Hanging up calls in progress: against the simulator, and the bounds on how fast it goes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from campaigner.dialer.hang_up import HangUps, hang_up_calls
from campaigner.retell import AuthenticationFailed, RetellClient
from retell_sim import (
    DEMO_FROM_NUMBERS,
    ForcedOutcome,
    SimulatorConfig,
    SimulatorHandle,
    run_simulator,
)
from tests.dialer.conftest import numbers

TALKING, BUSY = numbers(2), "+12125550199"


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with run_simulator(SimulatorConfig(speed=0, cps=1000, seed=5)) as handle:
        for number in TALKING:
            talk = ForcedOutcome(
                to_number=number, disconnection_reason="agent_hangup", duration_ms=600_000
            )
            handle.call(lambda s, order=talk: s.force(order))
        busy = ForcedOutcome(to_number=BUSY, disconnection_reason="dial_busy")
        handle.call(lambda s: s.force(busy))
        yield handle


async def placed_calls(sim: SimulatorHandle, client: RetellClient) -> list[str]:
    """Two calls talking for ten virtual minutes and one that ended busy, 30 s after dialing."""
    call_ids = []
    for index, number in enumerate([*TALKING, BUSY]):
        call = await client.create_phone_call(
            from_number=DEMO_FROM_NUMBERS[0], to_number=number, idempotency_key=f"k-{index}"
        )
        call_ids.append(call.call_id)
    sim.advance(30)
    return call_ids


async def test_calls_in_progress_are_stopped_and_an_ended_one_is_counted_apart(
    sim: SimulatorHandle,
) -> None:
    async with RetellClient(api_key=sim.api_key, base_url=sim.base_url) as client:
        call_ids = await placed_calls(sim, client)
        hung_up = await hang_up_calls(client, call_ids)
        reasons = [(await client.get_call(call_id)).disconnection_reason for call_id in call_ids]
    assert hung_up == HangUps(stopped=2, already_ended=1)
    assert reasons == ["manual_stopped", "manual_stopped", "dial_busy"]


async def test_a_refused_key_is_one_error_not_a_group(sim: SimulatorHandle) -> None:
    async with RetellClient(api_key=sim.api_key, base_url=sim.base_url) as client:
        call_ids = await placed_calls(sim, client)
    async with RetellClient(api_key="key_wrong", base_url=sim.base_url) as wrong:
        with pytest.raises(AuthenticationFailed):
            await hang_up_calls(wrong, call_ids)


class SlowStops:
    """Stands in for the client: each stop takes 10 ms; records how many overlapped."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0

    async def stop_call(self, call_id: str) -> bool:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return True


async def test_stops_overlap_up_to_the_bound_and_no_further() -> None:
    stops = SlowStops()
    call_ids = [f"call_{n}" for n in range(6)]
    hung_up = await hang_up_calls(stops, call_ids, in_flight=2, per_second=1000)  # type: ignore[arg-type]
    assert hung_up == HangUps(stopped=6, already_ended=0)
    assert stops.most_in_flight == 2


async def test_stops_are_paced() -> None:
    started = time.monotonic()
    await hang_up_calls(SlowStops(), ["a", "b", "c", "d", "e"], in_flight=5, per_second=20)  # type: ignore[arg-type]
    # The first stop goes at once, each of the other four waits a twentieth of a second.
    assert time.monotonic() - started >= 4 / 20
