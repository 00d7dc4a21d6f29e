"""`watch-inbox` end to end under the Prefect harness: drop, claim once, import, dial, report."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import flows.inbox
import httpx
import pytest
from flows.campaign import run_campaign
from flows.inbox import import_inbox_file, watch_inbox
from flows.report import export_report_flow
from prefect.settings import PREFECT_API_URL

from campaigner.dialer.progress import percent_done
from campaigner.display_text import for_markdown
from campaigner.inbox import FileOutcome
from campaigner.settings import get_settings
from campaigner.store import Contact, SourceFile
from tests.flows.conftest import Workspace, contacts_csv

pytestmark = pytest.mark.prefect


def imported(outcomes: list[FileOutcome]) -> list[FileOutcome]:
    return [o for o in outcomes if o.summary is not None and not o.summary.already_ingested]


async def test_a_dropped_file_ends_up_as_dialed_contacts_and_a_report(
    workspace: Workspace,
) -> None:
    folder = workspace.add_campaign("reminders")
    workspace.drop("reminders", "monday.csv", contacts_csv(8))
    outcomes = watch_inbox(quiet_seconds=0.1)
    assert [(o.file, o.error) for o in outcomes] == [("monday.csv", None)]
    assert outcomes[0].moved_to.parent == folder / "archive"
    assert workspace.count(Contact) == 8

    summary = await run_campaign("reminders", progress_every_seconds=1)
    assert summary.calls_placed == 8
    assert summary.counts["attempts"] == 8
    assert workspace.sim.stats()["calls_created"] == 8

    report = export_report_flow("reminders")
    assert report.directory == Path("out/reminders/reports")
    assert {"report.html", "contacts.csv", "summary.json"} <= {p.name for p in report.files}
    assert all(path.exists() for path in report.files)
    with (report.directory / "contacts.csv").open() as handle:
        assert sum(1 for _ in handle) == 1 + 8

    artifacts = artifacts_by_key("campaign-reminders-")
    assert set(artifacts) == {
        "campaign-reminders-progress",
        "campaign-reminders-summary",
        "campaign-reminders-outcomes",
        "campaign-reminders-report",
    }
    assert artifacts["campaign-reminders-progress"].get("data") == percent_done(summary.counts)
    assert "# Campaign reminders" in str(artifacts["campaign-reminders-summary"]["data"])
    assert "report.html" in str(artifacts["campaign-reminders-report"]["data"])
    shown = " ".join(f"{a['data']} {a['description']}" for a in artifacts.values())
    assert workspace.sim.api_key not in shown


def artifacts_by_key(prefix: str) -> dict[str, Any]:
    """The newest artifact of each key starting with `prefix`, as the API returns them.

    Over plain HTTP: this server refuses the nulls `PrefectClient.read_artifacts` sends for the
    filters it is not given, and an empty task-run filter would drop flow-level artifacts.
    """
    response = httpx.post(
        f"{PREFECT_API_URL.value()}/artifacts/filter",
        json={
            "artifacts": {"key": {"like_": f"{prefix}%"}},
            "sort": "CREATED_DESC",
            "limit": 100,
            "offset": 0,
        },
    )
    response.raise_for_status()
    newest: dict[str, Any] = {}
    for artifact in response.json():
        newest.setdefault(artifact["key"], artifact)
    return newest


def test_the_same_file_dropped_twice_also_under_another_name_is_imported_once(
    workspace: Workspace,
) -> None:
    workspace.add_campaign("shop")
    workspace.drop("shop", "list.csv", contacts_csv(5))
    first = watch_inbox(quiet_seconds=0.1, start_runs=False)
    workspace.drop("shop", "list.csv", contacts_csv(5))
    workspace.drop("shop", "Copy of list.csv", contacts_csv(5))
    again = watch_inbox(quiet_seconds=0.1, start_runs=False)
    assert len(imported(first)) == 1
    assert len(again) == 2
    assert imported(again) == []
    assert all(o.error is None and o.moved_to.parent.name == "archive" for o in again)
    assert workspace.count(SourceFile) == 1
    assert workspace.count(Contact) == 5


def test_two_watchers_at_once_claim_each_file_once(workspace: Workspace) -> None:
    workspace.add_campaign("shop")
    workspace.add_campaign("pharmacy")
    for n in range(6):
        workspace.drop("shop", f"shop-{n}.csv", contacts_csv(3, first=3 * n))
        workspace.drop("pharmacy", f"pharmacy-{n}.csv", contacts_csv(2, first=2 * n))
    start = threading.Barrier(2)

    def watcher() -> list[FileOutcome]:
        start.wait()
        return watch_inbox(quiet_seconds=0.2, start_runs=False)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [future.result() for future in [pool.submit(watcher), pool.submit(watcher)]]
    taken = sorted(outcome.file for outcomes in results for outcome in outcomes)
    assert taken == sorted(
        [f"shop-{n}.csv" for n in range(6)] + [f"pharmacy-{n}.csv" for n in range(6)]
    )
    assert all(outcome.error is None for outcomes in results for outcome in outcomes)
    assert workspace.count(SourceFile) == 12
    assert workspace.count(Contact) == 6 * 3 + 6 * 2
    assert list((workspace.inbox / "shop" / "processing").iterdir()) == []


def test_a_file_still_being_written_is_left_alone_until_it_settles(workspace: Workspace) -> None:
    workspace.add_campaign("shop")
    path = workspace.inbox / "shop" / "big.csv"
    path.write_text("phone\n")
    stop = threading.Event()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            with path.open("a") as handle:
                handle.write(f"+121255501{n % 100:02d}\n")
            n += 1
            time.sleep(0.1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert watch_inbox(quiet_seconds=0.5, start_runs=False) == []
    finally:
        stop.set()
        thread.join()
    assert path.exists()
    assert workspace.count(SourceFile) == 0
    time.sleep(0.6)
    assert [o.file for o in watch_inbox(quiet_seconds=0.5, start_runs=False)] == ["big.csv"]


def test_a_file_that_cannot_be_imported_lands_in_failed_with_a_readable_reason(
    workspace: Workspace,
) -> None:
    workspace.add_campaign("shop")
    workspace.drop("shop", "export.csv", "name,email\nAda,ada@example.com\n")
    (workspace.inbox / "nosuchcampaign").mkdir()
    workspace.drop("nosuchcampaign", "x.csv", contacts_csv(1))
    outcomes = {o.file: o for o in watch_inbox(quiet_seconds=0.1, start_runs=False)}
    assert set(outcomes) == {"export.csv", "x.csv"}
    for outcome in outcomes.values():
        assert outcome.moved_to.parent.name == "failed"
        error_file = outcome.moved_to.with_name(outcome.moved_to.name + ".error.txt")
        assert outcome.error is not None
        assert outcome.error in error_file.read_text()
        assert "Traceback" not in error_file.read_text()
    assert "phone" in (outcomes["export.csv"].error or "")
    assert "nosuchcampaign.yaml: no such campaign file" in (outcomes["x.csv"].error or "")
    assert workspace.count(SourceFile) == 0


def test_a_new_file_starts_no_run_without_a_deployment_but_says_so(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    workspace.add_campaign("shop")
    workspace.drop("shop", "a.csv", contacts_csv(2))
    with caplog.at_level("WARNING"):
        outcomes = watch_inbox(quiet_seconds=0.1)
    assert len(imported(outcomes)) == 1
    assert "no deployment run-campaign/shop" in caplog.text


def test_a_file_whose_import_keeps_failing_goes_back_into_the_inbox(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    workspace.add_campaign("shop")
    workspace.drop("shop", "a.csv", contacts_csv(2))
    monkeypatch.setattr(flows.inbox, "import_inbox_file", import_inbox_file.with_options(retries=0))
    monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", f"sqlite:///{tmp_path}/no/such/dir/store.db")
    get_settings.cache_clear()
    assert watch_inbox(quiet_seconds=0.1, start_runs=False) == []
    assert (workspace.inbox / "shop" / "a.csv").exists()
    assert list((workspace.inbox / "shop" / "processing").iterdir()) == []

    monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", f"sqlite:///{workspace.root / 'store.db'}")
    get_settings.cache_clear()
    os.utime(workspace.inbox / "shop" / "a.csv", (time.time() - 30, time.time() - 30))
    assert [o.file for o in imported(watch_inbox(quiet_seconds=0.1, start_runs=False))] == ["a.csv"]


def test_a_file_whose_import_fails_for_good_lands_in_failed_instead_of_looping(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace.add_campaign("shop")
    workspace.drop("shop", "a.csv", contacts_csv(2))

    def broken_import(**_: object) -> None:
        raise ValueError("row counts do not add up")

    monkeypatch.setattr(flows.inbox, "process_claimed_file", broken_import)
    assert watch_inbox(quiet_seconds=0.1, start_runs=False) == []

    assert not (workspace.inbox / "shop" / "a.csv").exists()
    assert list((workspace.inbox / "shop" / "processing").iterdir()) == []
    (reason,) = (workspace.inbox / "shop" / "failed").glob("*.error.txt")
    assert "ValueError: row counts do not add up" in reason.read_text()


def test_a_link_a_long_name_and_a_linked_folder_stop_nothing_and_leak_no_key(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 19 rows 1 and 2: a symlink to a .env file had its key quoted in the error file, the
    artifact and the log; a long name, or a linked failed/, ended the whole run."""
    for campaign in ("shop", "pharmacy", "clinic"):
        workspace.add_campaign(campaign)
    dotenv = workspace.root / ".env"
    dotenv.write_text(f"RETELL_API_KEY={workspace.sim.api_key}\n")
    (workspace.inbox / "shop" / "leak.csv").symlink_to(dotenv)
    long_name = "n" * 251 + ".csv"
    workspace.drop("shop", long_name, contacts_csv(3))
    elsewhere = workspace.root / "elsewhere"
    elsewhere.mkdir()
    (workspace.inbox / "pharmacy" / "failed").symlink_to(elsewhere, target_is_directory=True)
    workspace.drop("pharmacy", "no phones.csv", "name\nAda\n")
    workspace.drop("clinic", "a.csv", contacts_csv(2, first=10))
    with caplog.at_level("WARNING"):
        outcomes = {o.file: o for o in watch_inbox(quiet_seconds=0.1, start_runs=False)}

    assert set(outcomes) == {"leak.csv", long_name, "a.csv"}
    assert (outcomes["leak.csv"].error or "").startswith("leak.csv: a symbolic link")
    assert outcomes["leak.csv"].moved_to.parent == workspace.inbox / "shop" / "failed"
    assert [outcomes[name].summary.accepted for name in (long_name, "a.csv")] == [3, 2]
    assert (workspace.inbox / "pharmacy" / "no phones.csv").exists()
    assert list(elsewhere.iterdir()) == []
    assert "pharmacy/failed/ is a symbolic link" in caplog.text
    (table,) = artifacts_by_key("watch-inbox-files").values()
    assert "leak.csv: a symbolic link" in str(table["data"])
    (error_file,) = (workspace.inbox / "shop" / "failed").glob("*.error.txt")
    shown = f"{table['data']} {table['description']} {caplog.text} {error_file.read_text()}"
    assert workspace.sim.api_key not in shown


def test_every_file_gets_its_receipt_beside_it_and_in_the_artifact_and_a_stray_one_once(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    workspace.add_campaign("shop")
    workspace.drop("shop", "monday.csv", contacts_csv(3) + "not a number\n")
    stray = workspace.inbox / "stray.csv"
    stray.write_text(contacts_csv(1))
    with caplog.at_level("WARNING"):
        (outcome,) = watch_inbox(quiet_seconds=0.1, start_runs=False)
        assert watch_inbox(quiet_seconds=0.1, start_runs=False) == []

    receipt = (workspace.inbox / "shop" / "receipts" / "monday.csv.txt").read_text()
    assert outcome.receipt is not None
    assert receipt == outcome.receipt.text
    assert "Rows read: 4\nAccepted: 3\nRejected: 1\n" in receipt
    stray_receipt = (workspace.inbox / "receipts" / "stray.csv.txt").read_text()
    assert "Put contact files into inbox/<campaign-name>/. The campaigns: shop." in stray_receipt
    assert stray.exists()
    assert caplog.text.count("inbox/stray.csv is not in a campaign's folder") == 1
    (artifact,) = artifacts_by_key("watch-inbox-receipts").values()
    shown = str(artifact["data"])
    for line in [*receipt.splitlines(), *stray_receipt.splitlines()]:
        assert for_markdown(line) in shown
