"""A workspace whose concurrency other traffic holds: the run waits for a slot, within a bound."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from campaigner.retell import RetellClient
from campaigner.store import ContactStatus
from retell_sim import ForcedOutcome
from tests.dialer.conftest import Rig, numbers
from tests.dialer.test_runner import FAST, attempts, contacts, run


async def occupy_workspace(rig: Rig, calls: int, virtual_seconds: int) -> None:
    """Place `calls` calls outside campaigner (another tool, inbound traffic), each lasting
    `virtual_seconds` on the simulator's clock."""
    others = numbers(calls, area="415")
    for number in others:
        order = ForcedOutcome(
            to_number=number,
            disconnection_reason="user_hangup",
            duration_ms=virtual_seconds * 1000,
        )
        rig.sim.call(lambda sim, order=order: sim.force(order))
    async with RetellClient(api_key=rig.sim.api_key, base_url=rig.sim.base_url) as client:
        for number in others:
            await client.create_phone_call(
                from_number="+14155550100", to_number=number, idempotency_key=f"other-{number}"
            )


async def test_a_run_waits_while_other_traffic_holds_every_slot(rig: Rig) -> None:
    # Five slots, all held by other calls for 1,200 virtual seconds (3 s at the rig's speed).
    await occupy_workspace(rig, calls=5, virtual_seconds=1200)
    rig.ingest(rig.campaign(), numbers(8))
    summary = await run(rig)
    assert summary.stop_reason == "nothing is due now"
    assert summary.calls_placed == 8
    assert Counter(c.attempts_made for c in contacts(rig)) == {1: 8}
    # One call per contact: the other traffic's five and no second call for any attempt.
    assert rig.sim.stats()["calls_created"] == 8 + 5
    assert len({a.retell_call_id for a in attempts(rig)}) == 8


async def test_a_run_stops_with_the_reason_when_other_traffic_holds_the_slots_too_long(
    rig: Rig,
) -> None:
    await occupy_workspace(rig, calls=5, virtual_seconds=40_000)
    rig.ingest(rig.campaign(), numbers(8))
    summary = await run(rig, options=replace(FAST, capacity_wait=1.0))
    assert summary.calls_placed == 0
    assert "used by other traffic" in summary.stop_reason
    assert "8 contacts are due" in summary.stop_reason
    assert {c.status for c in contacts(rig)} == {ContactStatus.PENDING}
    assert {c.attempts_made for c in contacts(rig)} == {0}
