"""The client against the simulator over real HTTP: paths, shapes and failures it handles."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from campaigner.retell import (
    AmbiguousCreate,
    AuthenticationFailed,
    BatchCallTask,
    Call,
    CallTimeWindow,
    NotFound,
    RequestRetries,
    RetellClient,
    TimeWindow,
    call_filter,
)
from retell_sim import (
    DEMO_AGENT_ID,
    DEMO_FROM_NUMBERS,
    DEMO_LLM_ID,
    ForcedOutcome,
    SimulatorConfig,
    SimulatorHandle,
    parse_faults,
    run_simulator,
)

TO = "+12125550123"


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with run_simulator(SimulatorConfig(speed=0, cps=1000, seed=3)) as handle:
        yield handle


def client_for(sim: SimulatorHandle, **kwargs: object) -> RetellClient:
    return RetellClient(api_key=sim.api_key, base_url=sim.base_url, **kwargs)  # type: ignore[arg-type]


async def test_a_call_goes_from_registered_to_ended_with_analysis(sim: SimulatorHandle) -> None:
    async with client_for(sim) as client:
        created = await client.create_phone_call(
            from_number=DEMO_FROM_NUMBERS[0],
            to_number=TO,
            idempotency_key="k-lifecycle",
            metadata={"campaign": "it", "attempt": "1"},
            dynamic_variables={"first_name": "Ada"},
        )
        assert created.call_status == "registered"
        assert created.metadata == {"campaign": "it", "attempt": "1"}
        sim.advance(3600)
        call = await client.get_call(created.call_id)
        assert call.is_terminal
        assert call.call_analysis is not None
        assert call.end_timestamp is not None
        page = await client.list_calls(filter_criteria=call_filter(metadata={"campaign": "it"}))
        assert [item.call_id for item in page.items] == [created.call_id]
        assert page.items[0].transcript is None


async def test_idempotent_replay_returns_the_same_call(sim: SimulatorHandle) -> None:
    async with client_for(sim) as client:
        first = await client.create_phone_call(
            from_number=DEMO_FROM_NUMBERS[0], to_number=TO, idempotency_key="same"
        )
        again = await client.create_phone_call(
            from_number=DEMO_FROM_NUMBERS[0], to_number=TO, idempotency_key="same"
        )
    assert again.call_id == first.call_id
    assert sim.stats()["idempotent_replays"] == 1


async def test_lost_create_is_ambiguous_and_found_again_by_metadata(
    sim: SimulatorHandle,
) -> None:
    sim.call(lambda s: s.faults.set_spec(parse_faults("lost_create=1.0")))
    async with client_for(sim) as client:
        with pytest.raises(AmbiguousCreate) as caught:
            await client.create_phone_call(
                from_number=DEMO_FROM_NUMBERS[0],
                to_number=TO,
                idempotency_key="lost-1",
                metadata={"attempt": "77"},
            )
        assert caught.value.idempotency_key == "lost-1"
        sim.call(lambda s: s.faults.set_spec(parse_faults("none")))
        found = await client.list_calls(filter_criteria=call_filter(metadata={"attempt": "77"}))
        replay = await client.create_phone_call(
            from_number=DEMO_FROM_NUMBERS[0], to_number=TO, idempotency_key="lost-1"
        )
    assert len(found.items) == 1
    assert replay.call_id == found.items[0].call_id
    assert sim.stats()["calls_created"] == 1


async def test_pagination_walks_every_call_once(sim: SimulatorHandle) -> None:
    async with client_for(sim) as client:
        created = {
            (
                await client.create_phone_call(
                    from_number=DEMO_FROM_NUMBERS[0],
                    to_number=f"+1212555{100 + n:04d}",
                    idempotency_key=f"page-{n}",
                    metadata={"campaign": "paged"},
                )
            ).call_id
            for n in range(25)
        }
        seen = [
            call.call_id
            async for call in client.iter_calls(
                filter_criteria=call_filter(metadata={"campaign": "paged"}), page_size=10
            )
        ]
    assert sorted(seen) == sorted(created)


async def test_reads_of_workspace_objects(sim: SimulatorHandle) -> None:
    async with client_for(sim) as client:
        concurrency = await client.get_concurrency()
        agent = await client.get_agent(DEMO_AGENT_ID)
        agents = await client.list_agents()
        llm = await client.get_retell_llm(DEMO_LLM_ID)
        numbers = await client.list_phone_numbers()
        number = await client.get_phone_number(DEMO_FROM_NUMBERS[0])
        voice = await client.get_voice(agent.voice_id or "")
    assert concurrency.concurrency_limit == 20
    assert concurrency.free_outbound_slots == 20
    assert agent.post_call_analysis_data
    assert DEMO_AGENT_ID in {summary.agent_id for summary in agents}
    assert llm.llm_id == DEMO_LLM_ID
    assert {n.phone_number for n in numbers} >= set(DEMO_FROM_NUMBERS)
    assert number.outbound_agents
    assert number.outbound_agents[0].agent_id == DEMO_AGENT_ID
    assert voice.voice_id == agent.voice_id


async def test_batch_call_is_accepted_and_dials_its_tasks(sim: SimulatorHandle) -> None:
    async with client_for(sim) as client:
        batch = await client.create_batch_call(
            from_number=DEMO_FROM_NUMBERS[0],
            tasks=[
                BatchCallTask(to_number=TO, metadata={"campaign": "b"}),
                BatchCallTask(to_number="+12125550124", metadata={"campaign": "b"}),
            ],
            name="two",
            call_time_window=CallTimeWindow(
                windows=[TimeWindow(start=0, end=1440)], timezone="America/New_York"
            ),
        )
        sim.advance(3600)
        calls = await client.list_calls(
            filter_criteria=call_filter(batch_call_id=batch.batch_call_id)
        )
    assert batch.total_task_count == 2
    assert len(calls.items) == 2


async def ten_minute_call(sim: SimulatorHandle, client: RetellClient, key: str) -> Call:
    """A call to TO that talks for ten virtual minutes once it is answered."""
    order = ForcedOutcome(to_number=TO, disconnection_reason="agent_hangup", duration_ms=600_000)
    sim.call(lambda s: s.force(order))
    return await client.create_phone_call(
        from_number=DEMO_FROM_NUMBERS[0], to_number=TO, idempotency_key=key
    )


async def test_stop_call_ends_a_call_in_progress_and_then_finds_it_ended(
    sim: SimulatorHandle,
) -> None:
    async with client_for(sim) as client:
        created = await ten_minute_call(sim, client, "k-stop")
        sim.advance(30)
        assert (await client.get_call(created.call_id)).call_status == "ongoing"
        stopped = await client.stop_call(created.call_id)
        call = await client.get_call(created.call_id)
        again = await client.stop_call(created.call_id)
    assert stopped is True
    assert (call.call_status, call.disconnection_reason) == ("ended", "manual_stopped")
    assert again is False


async def test_stop_call_ends_a_call_still_ringing(sim: SimulatorHandle) -> None:
    async with client_for(sim) as client:
        created = await ten_minute_call(sim, client, "k-stop-early")
        stopped = await client.stop_call(created.call_id)
        call = await client.get_call(created.call_id)
    assert stopped is True
    assert call.is_terminal
    assert call.disconnection_reason == "manual_stopped"


async def test_unknown_call_and_wrong_key(sim: SimulatorHandle) -> None:
    async with client_for(sim) as client:
        with pytest.raises(NotFound):
            await client.get_call("call_does_not_exist")
        with pytest.raises(NotFound):
            await client.stop_call("call_does_not_exist")
    async with RetellClient(api_key="wrong", base_url=sim.base_url) as bad:
        with pytest.raises(AuthenticationFailed):
            await bad.get_concurrency()


async def test_reads_ride_out_injected_faults(sim: SimulatorHandle) -> None:
    sim.call(lambda s: s.faults.set_spec(parse_faults("5xx=0.3,429=0.2,drop=0.1")))
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    async with client_for(
        sim, request_retries=RequestRetries(max_retries=10), sleep=no_wait
    ) as client:
        for _ in range(30):
            assert (await client.get_concurrency()).concurrency_limit == 20
    stats = sim.stats()
    faults = stats["faults_injected"]
    assert isinstance(faults, dict)
    assert sum(faults.values()) > 0
    assert len(waits) == sum(faults.values())
