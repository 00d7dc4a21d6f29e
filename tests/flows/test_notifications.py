"""The Prefect events automations turn into notifications, caught with Prefect's asserting events
client: rows rejected by watch-inbox, a failed check and the end of a run by run-campaign."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flows.campaign import run_campaign
from flows.inbox import watch_inbox
from flows.ingest import ingest_contacts
from flows.notifications import (
    COMPLETED,
    PAUSED,
    PREFLIGHT_FAILED,
    ROWS_REJECTED,
    emit_run_end,
)
from prefect.events import Event
from prefect.events.worker import EventsWorker
from prefect.testing.fixtures import asserting_events_worker  # noqa: F401 -- used by `emitted`

from campaigner.dialer.runner import RunSummary
from campaigner.store import CampaignStatus, transaction
from campaigner.store.campaigns import set_status
from tests.dialer.test_progress import counts
from tests.flows.conftest import Workspace, contacts_csv

pytestmark = pytest.mark.prefect

CampaignEvents = Callable[[], list[Event]]


@pytest.fixture
def emitted(asserting_events_worker: EventsWorker) -> CampaignEvents:  # noqa: F811 -- a fixture
    """campaigner's events emitted in this test (Prefect's own, of flow and task runs, left out).
    Each test has its own worker, drained when it ends, and so its own client."""

    def campaign_events() -> list[Event]:
        asserting_events_worker.wait_until_empty()
        # The client and its list are made as the worker's thread gets going: maybe not yet when
        # nothing was sent.
        client = getattr(asserting_events_worker, "_client", None)
        recorded: list[Event] = getattr(client, "events", [])
        return [event for event in recorded if event.event.startswith("campaigner.")]

    return campaign_events


def test_a_file_with_rejected_rows_is_an_event_of_its_campaign(
    workspace: Workspace, emitted: CampaignEvents
) -> None:
    workspace.add_campaign("shop")
    workspace.drop("shop", "leads.csv", contacts_csv(2) + "not a number\n")
    workspace.drop("shop", "clean.csv", contacts_csv(1, first=5))

    watch_inbox(quiet_seconds=0.1, start_runs=False)

    (event,) = emitted()
    assert event.event == ROWS_REJECTED
    assert event.resource.id == "campaigner.campaign.shop"
    assert event.payload["file"] == "leads.csv"
    assert (event.payload["accepted"], event.payload["rejected"]) == (2, 1)
    assert event.payload["rejected_file"].endswith(".csv")


async def test_a_failed_check_is_an_event_with_the_checklist_and_never_the_key(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, emitted: CampaignEvents
) -> None:
    refused = "key_refused_by_the_simulator"
    monkeypatch.setenv("RETELL_API_KEY", refused)
    workspace.add_campaign("refused")

    state = await run_campaign.with_options(retries=0)("refused", return_state=True)

    assert state.is_failed()
    (event,) = emitted()
    assert event.event == PREFLIGHT_FAILED
    assert event.resource.id == "campaigner.campaign.refused"
    assert "✗ API key: refused by" in event.payload["reason"]
    assert refused not in event.model_dump_json()


async def test_a_run_of_a_campaign_paused_by_hand_says_nothing_again(
    workspace: Workspace, emitted: CampaignEvents
) -> None:
    workspace.add_campaign("harbour")
    ingest_contacts("harbour", workspace.drop("harbour", "leads.csv", contacts_csv(2)))
    with transaction(workspace.engine) as session:
        set_status(session=session, name="harbour", status=CampaignStatus.PAUSED, reason="by hand")

    summary = await run_campaign("harbour")

    assert summary.status == "paused"
    assert emitted() == []


def run_summary(status: str, *, calls_finished: int, by_status: dict[str, int]) -> RunSummary:
    return RunSummary(
        campaign="spring",
        status=status,
        stop_reason="budget of $5.00 reached",
        calls_placed=calls_finished,
        calls_finished=calls_finished,
        counts=counts(by_status),
        next_callable_at=None,
    )


@pytest.mark.parametrize(
    ("status_before", "summary", "events"),
    [
        # Paused by this run: said, with the reason.
        ("active", run_summary("paused", calls_finished=2, by_status={"pending": 3}), [PAUSED]),
        # Paused before the run (by hand, or by an earlier run): not said again.
        ("paused", run_summary("paused", calls_finished=0, by_status={"pending": 3}), []),
        # The last calls settled: said once, by the run that settled them.
        ("active", run_summary("active", calls_finished=2, by_status={"done": 5}), [COMPLETED]),
        ("active", run_summary("active", calls_finished=0, by_status={"done": 5}), []),
        # Calls settled, contacts still to dial: nothing to say (also with one of 2001 left, which
        # is 100.0 % done to one decimal).
        (
            "active",
            run_summary("active", calls_finished=2, by_status={"done": 2, "pending": 1}),
            [],
        ),
        (
            "active",
            run_summary("active", calls_finished=2, by_status={"done": 2000, "pending": 1}),
            [],
        ),
    ],
)
def test_a_run_that_pauses_its_campaign_or_settles_its_last_calls_is_an_event(
    status_before: str, summary: RunSummary, events: list[str], emitted: CampaignEvents
) -> None:
    emit_run_end(status_before, summary)

    said = emitted()
    assert [event.event for event in said] == events
    for event in said:
        assert event.resource.id == "campaigner.campaign.spring"
        assert event.resource.name == "spring"
        assert event.payload["reason"] == "budget of $5.00 reached"
