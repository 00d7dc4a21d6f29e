"""`watch-inbox` end to end under the Prefect harness: drop, claim once, import, dial, report."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from campaigner.inbox import FileOutcome
from campaigner.store import Contact, SourceFile
from flows.campaign import run_campaign
from flows.inbox import watch_inbox
from tests.flows.conftest import Workspace, contacts_csv

pytestmark = pytest.mark.prefect


def imported(outcomes: list[FileOutcome]) -> list[FileOutcome]:
    return [o for o in outcomes if o.summary is not None and not o.summary.already_ingested]


async def test_a_dropped_file_ends_up_as_dialed_contacts(workspace: Workspace) -> None:
    folder = workspace.add_campaign("shop")
    workspace.drop("shop", "monday.csv", contacts_csv(8))
    outcomes = watch_inbox(quiet_seconds=0.1)
    assert [(o.file, o.error) for o in outcomes] == [("monday.csv", None)]
    assert outcomes[0].moved_to.parent == folder / "archive"
    assert workspace.count(Contact) == 8
    summary = await run_campaign("shop", progress_every_seconds=1)
    assert summary.calls_placed == 8
    assert summary.counts["attempts"] == 8
    assert workspace.sim.stats()["calls_created"] == 8
