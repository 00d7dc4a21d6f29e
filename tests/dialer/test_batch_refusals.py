"""Batch mode when Retell refuses a batch: a 400 naming a task settles that task's contact and
sends the others again, and the campaign goes on; a 400 naming no task, or an account refusal,
still pauses it.

Retell's own refusals are scripted at the edge (`RefusingTransport`, in front of the simulator,
which does everything else); the last test lets the simulator refuse a number on its internal
do-not-call list by itself.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import Session

from campaigner.campaign import CampaignConfig, OutcomeClass, parse_campaign
from campaigner.dialer import batching
from campaigner.dialer.runner import CampaignRunner, RunSummary
from campaigner.retell import RetellClient
from campaigner.store import (
    BatchState,
    BatchSubmission,
    CallAttempt,
    Contact,
    ContactStatus,
    attempts,
    suppression,
)
from retell_sim import SimulatorConfig
from tests.dialer.conftest import Rig, numbers
from tests.dialer.fakes import SimulatorClock
from tests.dialer.test_batch_mode import (
    ANSWERED,
    FAST,
    assert_every_task_sent_once,
    rows,
    simulated_batches,
)

CAMPAIGN = """
name: refusals
agent: {{agent_id: agent_campaigner_demo}}
from_numbers: ["+14155550100"]
columns: {{phone: phone, dynamic_variables: {{first_name: first_name}}}}
window:
  days: [mon, tue, wed, thu, fri, sat, sun]
  start: "00:00"
  end: "23:59"
  allow_outside_federal_hours: true
caps: {{calls_per_second: 200, max_calls_per_number_per_24h: 10}}
mode: batch
batch: {{size: {size}, reserved_concurrency: 0}}
"""
ROOMY = SimulatorConfig(speed=400, concurrency_limit=20, cps=100, seed=8, outcomes=ANSWERED)


class Crash(Exception):
    """Stands for the process dying where it is raised. The run's own clean-up still runs (a
    kill -9 would skip it): it drops the run lease, which expires within 5 s anyway."""


class RefusingTransport(httpx.AsyncBaseTransport):
    """Passes requests to the simulator, but answers `create-batch-call` as Retell would refuse
    it: 400 naming the first task whose number is in `refused` (with its message), or 401 for
    every batch from the `refuse_key_from`-th on, or 400 naming no task for every batch with
    `refuse_batch`, or 400 naming `refuse_field` of the first task. Records the task count of
    each batch sent."""

    def __init__(
        self,
        refused: dict[str, str] | None = None,
        *,
        refuse_key_from: int | None = None,
        crash_on: int | None = None,
        refuse_batch: bool = False,
        refuse_field: str | None = None,
    ) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._refused = refused or {}
        self._refuse_key_from = refuse_key_from
        self._crash_on = crash_on
        self._refuse_batch = refuse_batch
        self._refuse_field = refuse_field
        self.batch_sizes: list[int] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/create-batch-call"):
            tasks = json.loads(await request.aread())["tasks"]
            self.batch_sizes.append(len(tasks))
            sent = len(self.batch_sizes)
            if sent == self._crash_on:
                raise Crash(f"killed before create-batch-call #{sent} went out")
            if self._refuse_key_from is not None and sent >= self._refuse_key_from:
                return self._error(401, "API key is missing or invalid.")
            if self._refuse_batch:
                return self._error(400, "Invalid request format, please check API reference.")
            if self._refuse_field:
                return self._error(400, f"tasks[0].{self._refuse_field}: not allowed in a batch")
            for index, task in enumerate(tasks):
                if task["to_number"] in self._refused:
                    reason = self._refused[task["to_number"]]
                    return self._error(400, f"tasks[{index}].to_number: {reason}")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    @staticmethod
    def _error(status: int, message: str) -> httpx.Response:
        return httpx.Response(status, json={"status": "error", "message": message})


def campaign(size: int) -> CampaignConfig:
    return parse_campaign(CAMPAIGN.format(size=size))


async def run(rig: Rig, config: CampaignConfig, transport: httpx.AsyncBaseTransport) -> RunSummary:
    async def short_wait(seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.01))

    client = RetellClient(
        api_key=rig.sim.api_key, base_url=rig.sim.base_url, transport=transport, sleep=short_wait
    )
    async with client:
        runner = CampaignRunner(
            config=config,
            engine=rig.engine,
            client=client,
            clock=SimulatorClock(rig.sim),
            options=FAST,
        )
        return await runner.run()


async def run_until_settled(
    rig: Rig, config: CampaignConfig, transport: httpx.AsyncBaseTransport
) -> RunSummary:
    """Run again (as cron would) until every contact is done."""
    for _ in range(20):
        summary = await run(rig, config, transport)
        if all(c.status == ContactStatus.DONE for c in rows(rig, Contact)):
            return summary
    raise AssertionError("contacts left unsettled")


def by_number(rig: Rig) -> dict[str, Contact]:
    return {contact.phone_e164: contact for contact in rows(rig, Contact)}


def called_numbers(rig: Rig) -> list[str]:
    return [a.to_number for a in rows(rig, CallAttempt) if a.retell_call_id]


@pytest.mark.parametrize("sim_config", [ROOMY])
async def test_one_refused_number_among_sixteen_leaves_fifteen_calls_and_goes_on(
    rig: Rig,
) -> None:
    phones = numbers(16)
    bad = phones[11]
    transport = RefusingTransport({bad: f"{bad} cannot be dialed"})
    config = campaign(size=16)
    rig.ingest(config, phones)

    summary = await run_until_settled(rig, config, transport)

    assert summary.status == "active"
    assert sorted(called_numbers(rig)) == sorted(set(phones) - {bad})
    assert rig.sim.stats()["calls_created"] == 15
    assert_every_task_sent_once(rig)
    contacts = by_number(rig)
    assert contacts[bad].final_outcome == OutcomeClass.PERMANENT_FAILURE
    *_, last = [a for a in rows(rig, CallAttempt) if a.contact_id == contacts[bad].id]
    assert last.outcome_class == OutcomeClass.PERMANENT_FAILURE
    assert last.error_detail is not None
    assert f"tasks[11].to_number: {bad} cannot be dialed" in last.error_detail
    with Session(rig.engine) as session:
        assert suppression.reasons(session=session, numbers=phones) == {}
    # The batches refused on the way down were not attempts of anyone's, nor calls of the
    # numbers' day (per-number caps).
    assert {c.attempts_made for c in contacts.values()} == {1}
    with Session(rig.engine) as session:
        since = datetime(2000, 1, 1, tzinfo=UTC)
        counted = attempts.calls_to_number_since(session=session, numbers=phones, since=since)
    assert counted == {phone: 1 for phone in phones if phone != bad}
    # The refused batch, then the fifteen others at once: one request more for the refused task.
    assert transport.batch_sizes == [16, 15]


@pytest.mark.parametrize("sim_config", [ROOMY])
async def test_two_refused_numbers_are_each_settled_with_their_reason(rig: Rig) -> None:
    phones = numbers(16)
    dnc, unwanted = phones[2], phones[13]
    transport = RefusingTransport(
        {dnc: f"{dnc} is on the do-not-call list", unwanted: f"{unwanted} cannot be dialed"}
    )
    config = campaign(size=16)
    rig.ingest(config, phones)

    summary = await run_until_settled(rig, config, transport)

    assert summary.status == "active"
    assert sorted(called_numbers(rig)) == sorted(set(phones) - {dnc, unwanted})
    assert_every_task_sent_once(rig)
    contacts = by_number(rig)
    assert contacts[dnc].final_outcome == OutcomeClass.DNC_REQUEST
    assert contacts[unwanted].final_outcome == OutcomeClass.PERMANENT_FAILURE
    with Session(rig.engine) as session:
        assert set(suppression.reasons(session=session, numbers=phones)) == {dnc}
    assert transport.batch_sizes == [16, 15, 14]


@pytest.mark.parametrize("sim_config", [ROOMY])
async def test_a_batch_of_refused_numbers_settles_every_one_and_places_no_call(
    rig: Rig,
) -> None:
    phones = numbers(4)
    transport = RefusingTransport({phone: f"{phone} cannot be dialed" for phone in phones})
    config = campaign(size=4)
    rig.ingest(config, phones)

    summary = await run_until_settled(rig, config, transport)

    assert summary.status == "active"
    assert rig.sim.stats()["calls_created"] == 0
    assert simulated_batches(rig) == []
    finals = {c.final_outcome for c in rows(rig, Contact)}
    assert finals == {OutcomeClass.PERMANENT_FAILURE}
    assert transport.batch_sizes == [4, 3, 2, 1]  # one named task fewer each time
    assert {b.state for b in rows(rig, BatchSubmission)} == {BatchState.FAILED}


@pytest.mark.parametrize("sim_config", [ROOMY])
async def test_an_account_refusal_still_pauses_without_splitting(rig: Rig) -> None:
    phones = numbers(8)
    transport = RefusingTransport(refuse_key_from=1)
    config = campaign(size=8)
    rig.ingest(config, phones)

    summary = await run(rig, config, transport)

    assert summary.status == "paused"
    assert "401" in summary.stop_reason
    assert transport.batch_sizes == [8]
    contacts = rows(rig, Contact)
    assert {c.status for c in contacts} == {ContactStatus.WAITING_RETRY}
    assert {c.attempts_made for c in contacts} == {0}


@pytest.mark.parametrize("sim_config", [ROOMY])
async def test_a_400_naming_no_task_pauses_and_leaves_every_contact_due(rig: Rig) -> None:
    """A refusal of the batch as a whole (its caller ID, its window) is not any contact's fault:
    settling each contact alone would burn the whole list."""
    phones = numbers(8)
    transport = RefusingTransport(refuse_batch=True)
    config = campaign(size=8)
    rig.ingest(config, phones)

    summary = await run(rig, config, transport)

    assert summary.status == "paused"
    assert "Invalid request format" in summary.stop_reason
    assert transport.batch_sizes == [8]
    contacts = rows(rig, Contact)
    assert {c.status for c in contacts} == {ContactStatus.WAITING_RETRY}
    assert {c.attempts_made for c in contacts} == {0}
    assert {c.lease_owner for c in contacts} == {None}


@pytest.mark.parametrize("sim_config", [ROOMY])
async def test_a_400_naming_a_field_every_task_shares_pauses_instead_of_settling_a_task(
    rig: Rig,
) -> None:
    """`tasks[0].override_agent_id` is the same in every task: refusing it refuses the batch, and
    settling task after task would burn the whole list."""
    phones = numbers(8)
    transport = RefusingTransport(refuse_field="override_agent_id")
    config = campaign(size=8)
    rig.ingest(config, phones)

    summary = await run(rig, config, transport)

    assert summary.status == "paused"
    assert transport.batch_sizes == [8]
    contacts = rows(rig, Contact)
    assert {c.status for c in contacts} == {ContactStatus.WAITING_RETRY}
    assert {c.attempts_made for c in contacts} == {0}


@pytest.mark.parametrize("sim_config", [ROOMY])
async def test_a_pause_while_resending_leaves_every_other_contact_due(rig: Rig) -> None:
    phones = numbers(8)
    transport = RefusingTransport({phones[0]: "cannot be dialed"}, refuse_key_from=2)
    config = campaign(size=8)
    rig.ingest(config, phones)

    summary = await run(rig, config, transport)

    assert summary.status == "paused"
    assert transport.batch_sizes == [8, 7]
    contacts = by_number(rig)
    assert contacts.pop(phones[0]).final_outcome == OutcomeClass.PERMANENT_FAILURE
    assert {c.status for c in contacts.values()} == {ContactStatus.WAITING_RETRY}
    assert {c.lease_owner for c in contacts.values()} == {None}
    assert {c.attempts_made for c in contacts.values()} == {0}


@pytest.mark.parametrize("sim_config", [ROOMY])
async def test_a_run_killed_while_resending_leaves_no_contact_astray(rig: Rig) -> None:
    """Killed as the other tasks go out again: the refused batch is closed with the refused
    contact settled, the others in an unsent batch of their own, which the next run reconciles;
    each good number is called once."""
    phones = numbers(8)
    bad = phones[6]
    config = campaign(size=8)
    rig.ingest(config, phones)

    with pytest.raises(Crash):
        await run(rig, config, RefusingTransport({bad: "cannot be dialed"}, crash_on=2))

    batches = {b.id: b for b in rows(rig, BatchSubmission)}
    refused, rest = sorted(batches)
    assert batches[refused].state == BatchState.FAILED
    assert batches[rest].state == BatchState.PENDING_SEND
    for contact in rows(rig, Contact):
        latest = max(
            (a for a in rows(rig, CallAttempt) if a.contact_id == contact.id),
            key=lambda a: a.attempt_number,
        )
        if contact.phone_e164 == bad:
            assert contact.final_outcome == OutcomeClass.PERMANENT_FAILURE
            assert latest.batch_id == refused
        else:
            assert contact.status == ContactStatus.DIALING
            assert latest.batch_id == rest  # in the batch it was about to go out in

    await run_until_settled(rig, config, RefusingTransport({bad: "cannot be dialed"}))

    assert sorted(called_numbers(rig)) == sorted(set(phones) - {bad})
    assert_every_task_sent_once(rig)
    assert by_number(rig)[bad].final_outcome == OutcomeClass.PERMANENT_FAILURE


@pytest.mark.parametrize("sim_config", [ROOMY])
async def test_a_run_killed_while_closing_a_refused_batch_leaves_it_to_the_next_run(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refused batch is closed and its contacts settled in one transaction: killed in
    between, nothing of it is written, and the next run reconciles the batch like any unsent
    one instead of finding its contacts stuck `dialing` behind a closed batch."""
    phones = numbers(4)
    bad = phones[1]
    config = campaign(size=4)
    rig.ingest(config, phones)

    def killed(*args: object, **kwargs: object) -> None:
        raise Crash("killed while settling the refused batch's attempts")

    with monkeypatch.context() as patch:
        patch.setattr(batching, "settle_attempts", killed)
        with pytest.raises(Crash):
            await run(rig, config, RefusingTransport({bad: "cannot be dialed"}))

    (batch,) = rows(rig, BatchSubmission)
    assert batch.state == BatchState.PENDING_SEND
    await run_until_settled(rig, config, RefusingTransport({bad: "cannot be dialed"}))

    assert sorted(called_numbers(rig)) == sorted(set(phones) - {bad})
    assert by_number(rig)[bad].final_outcome == OutcomeClass.PERMANENT_FAILURE


@pytest.mark.parametrize(
    "sim_config",
    [
        SimulatorConfig(
            speed=400,
            concurrency_limit=20,
            cps=100,
            seed=9,
            outcomes=ANSWERED,
            batch_internal_dnc="refuse",
        )
    ],
)
async def test_the_simulator_refusing_a_dnc_number_suppresses_it_and_dials_the_rest(
    rig: Rig,
) -> None:
    phones = numbers(8, area="646")
    dnc = phones[3]
    rig.sim.call(lambda sim: sim.add_dnc(dnc))
    config = campaign(size=8)
    rig.ingest(config, phones)

    summary = await run_until_settled(rig, config, httpx.AsyncHTTPTransport())

    assert summary.status == "active"
    assert rig.sim.stats()["calls_created"] == 7
    assert_every_task_sent_once(rig)
    assert by_number(rig)[dnc].final_outcome == OutcomeClass.DNC_REQUEST
    with Session(rig.engine) as session:
        assert set(suppression.reasons(session=session, numbers=phones)) == {dnc}
    requests = rig.sim.stats()["requests_by_endpoint"]
    assert isinstance(requests, dict)
    batch_requests = sum(n for path, n in requests.items() if "create-batch-call" in path)
    assert batch_requests == 2
