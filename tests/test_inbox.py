"""The inbox without Prefect: settled files, claims, archive and failed, stale claims, dedupe."""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from campaigner import inbox as inbox_module
from campaigner.contacts import IngestSummary
from campaigner.inbox import (
    ClaimedFile,
    InboxFolder,
    advise_misplaced_files,
    campaign_folders,
    claim_file,
    fail_file,
    finish_file,
    import_claimed_file,
    load_named_campaign,
    process_claimed_file,
    release_claim,
    release_stale_claims,
    settled_files,
    waiting_files,
)
from campaigner.store import Contact, SourceFile, make_engine
from tests.flows.conftest import CAMPAIGN, contacts_csv

CONTACTS = contacts_csv(5)
LONG_NAME = "n" * 251 + ".csv"  # 255 bytes, the most a file system allows
MINUTE = timedelta(minutes=1)


class FakeFileClock:
    """Epoch time that moves only when slept; `during_sleep` runs while "asleep"."""

    def __init__(self, during_sleep: Callable[[], None] | None = None) -> None:
        self.now = time.time()
        self.slept: list[float] = []
        self.during_sleep = during_sleep

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.during_sleep is not None:
            self.during_sleep()


@pytest.fixture
def folder(tmp_path: Path) -> InboxFolder:
    root = tmp_path / "inbox" / "shop"
    root.mkdir(parents=True)
    return InboxFolder(root)


@pytest.fixture
def campaigns_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "campaigns"
    directory.mkdir()
    (directory / "shop.yaml").write_text(CAMPAIGN.format(name="shop"))
    return directory


@pytest.fixture
def engine(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    path = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def drop(folder: InboxFolder, name: str, text: str = CONTACTS, age_s: float = 60) -> Path:
    path = folder.root / name
    path.write_text(text)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_campaign_folders_and_waiting_files_skip_what_is_not_a_dropped_file(
    folder: InboxFolder,
) -> None:
    (folder.root.parent / ".hidden").mkdir()
    for name in ["a.csv", ".a.csv.swp", "~$book.xlsx", "big.csv.part", "b.csv.crdownload"]:
        drop(folder, name)
    folder.processing.mkdir()
    assert campaign_folders(folder.root.parent) == [folder]
    assert waiting_files(folder) == [folder.root / "a.csv"]
    assert campaign_folders(folder.root / "missing") == []


def test_a_quiet_file_is_settled_after_one_look_and_one_sleep(folder: InboxFolder) -> None:
    path = drop(folder, "a.csv", age_s=30)
    clock = FakeFileClock()
    assert settled_files([path], quiet_seconds=5, clock=clock) == [path]
    assert clock.slept == [5]


def test_a_file_still_being_written_is_left_alone(folder: InboxFolder) -> None:
    growing = drop(folder, "growing.csv", age_s=30)
    quiet = drop(folder, "quiet.csv", age_s=30)

    def writer_appends() -> None:
        with growing.open("a") as handle:
            handle.write("+12125550199\n")
        os.utime(growing, (time.time() - 30, time.time() - 30))  # even with an old mtime

    clock = FakeFileClock(during_sleep=writer_appends)
    assert settled_files([growing, quiet], quiet_seconds=5, clock=clock) == [quiet]


def test_a_file_touched_just_now_is_not_settled_even_if_unchanged_since(
    folder: InboxFolder,
) -> None:
    clock = FakeFileClock()
    path = drop(folder, "fresh.csv", age_s=0)
    os.utime(path, (clock.now, clock.now))
    assert settled_files([path], quiet_seconds=5, clock=clock) == [path]
    # Touched 1 s before the second look of a new clock (which starts at the real time): the
    # first clock has moved 5 s ahead, and a time past the second look is a future one.
    later = FakeFileClock()
    os.utime(path, (later.now + 5 - 1, later.now + 5 - 1))
    assert settled_files([path], quiet_seconds=5, clock=later) == []


def test_a_file_taken_by_another_watcher_meanwhile_is_left_out(folder: InboxFolder) -> None:
    path = drop(folder, "a.csv")
    clock = FakeFileClock(during_sleep=path.unlink)
    assert settled_files([path], quiet_seconds=1, clock=clock) == []


def test_no_files_no_sleep() -> None:
    clock = FakeFileClock()
    assert settled_files([], quiet_seconds=5, clock=clock) == []
    assert clock.slept == []


def test_of_two_claims_of_one_file_exactly_one_wins(folder: InboxFolder) -> None:
    path = drop(folder, "a.csv")
    first = claim_file(folder, path)
    second = claim_file(folder, path)
    assert first is not None
    assert second is None
    assert first.path.parent == folder.processing
    assert first.path.name.endswith("-a.csv")
    assert first.original_name == "a.csv"
    assert first.path.read_text() == CONTACTS
    assert not path.exists()


def test_many_threads_claim_each_file_once(folder: InboxFolder) -> None:
    paths = [drop(folder, f"f{n}.csv") for n in range(20)]
    wins: list[ClaimedFile] = []
    start = threading.Barrier(4)

    def watcher() -> None:
        start.wait()
        for path in paths:
            claimed = claim_file(folder, path)
            if claimed is not None:
                wins.append(claimed)

    threads = [threading.Thread(target=watcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed.original_name for claimed in wins) == sorted(p.name for p in paths)
    assert len(list(folder.processing.iterdir())) == 20


def test_the_same_name_dropped_again_while_claimed_gets_its_own_claim(folder: InboxFolder) -> None:
    first = claim_file(folder, drop(folder, "a.csv"))
    second = claim_file(folder, drop(folder, "a.csv", text="phone\n+12125550111\n"))
    assert first is not None
    assert second is not None
    assert first.path != second.path
    assert first.path.read_text() == CONTACTS


def test_a_failed_file_lands_in_failed_beside_a_readable_reason(folder: InboxFolder) -> None:
    claimed = claim_file(folder, drop(folder, "a.csv"), now=datetime(2026, 5, 1, 9, 30, tzinfo=UTC))
    assert claimed is not None
    moved = fail_file(claimed, "no phone column: expected 'phone'")
    assert moved.parent == folder.failed
    error = (folder.failed / f"{moved.name}.error.txt").read_text()
    assert "a.csv could not be imported into campaign shop" in error
    assert "no phone column: expected 'phone'" in error
    assert "2026-05-01 09:30:00 UTC" in error


def test_stale_claims_go_back_to_the_inbox_and_fresh_ones_stay(folder: InboxFolder) -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    stale = claim_file(folder, drop(folder, "old.csv"), now=now - timedelta(hours=2))
    fresh = claim_file(folder, drop(folder, "new.csv"), now=now - timedelta(minutes=5))
    assert stale is not None
    assert fresh is not None
    released = release_stale_claims(folder, older_than=timedelta(hours=1), now=now)
    assert released == [folder.root / "old.csv"]
    assert fresh.path.exists()
    assert waiting_files(folder) == [folder.root / "old.csv"]


def test_a_stale_claim_keeps_its_claimed_name_when_its_own_is_taken(folder: InboxFolder) -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    stale = claim_file(folder, drop(folder, "a.csv"), now=now - timedelta(hours=2))
    assert stale is not None
    drop(folder, "a.csv", text="phone\n+12125550111\n")
    released = release_stale_claims(folder, older_than=timedelta(hours=1), now=now)
    assert released == [folder.root / stale.path.name]
    assert (folder.root / "a.csv").read_text() == "phone\n+12125550111\n"


def test_the_campaign_file_must_carry_the_folder_name(campaigns_dir: Path) -> None:
    assert load_named_campaign(campaigns_dir, "shop").name == "shop"
    (campaigns_dir / "other.yaml").write_text(CAMPAIGN.format(name="shop"))
    with pytest.raises(Exception, match="names its campaign 'shop'"):
        load_named_campaign(campaigns_dir, "other")


def count(engine: Engine, table: type[Contact] | type[SourceFile]) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def test_a_file_is_imported_then_archived(
    folder: InboxFolder, campaigns_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    claimed = claim_file(folder, drop(folder, "a.csv"))
    assert claimed is not None
    outcome = process_claimed_file(
        engine=engine, campaigns_dir=campaigns_dir, claimed=claimed, out_dir=tmp_path / "out"
    )
    assert outcome.error is None
    assert outcome.summary is not None
    assert outcome.summary.accepted == 5
    assert outcome.moved_to.parent == folder.archive
    assert outcome.moved_to.read_text() == CONTACTS
    assert count(engine, Contact) == 5


def test_an_imported_file_gets_a_receipt_beside_it_and_its_summary_names_where_it_is(
    folder: InboxFolder, campaigns_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    claimed = claim_file(folder, drop(folder, "a.csv", text=CONTACTS + "not a number\n"))
    assert claimed is not None
    outcome = process_claimed_file(
        engine=engine, campaigns_dir=campaigns_dir, claimed=claimed, out_dir=tmp_path / "out"
    )
    assert outcome.summary is not None
    assert outcome.receipt is not None
    assert outcome.receipt.path == folder.root / "receipts" / "a.csv.txt"
    text = outcome.receipt.path.read_text()
    assert text == outcome.receipt.text
    assert text.startswith("a.csv: imported into campaign shop on ")
    assert "Rows read: 6\nAccepted: 5\nRejected: 1\n  unparseable: 1\n" in text
    rejected_file = Path(text.split("the rejected rows, each with its reason: ")[1].split("\n")[0])
    assert rejected_file.read_text(encoding="utf-8-sig").count("not a number") == 1
    assert "Suppressed (on the do-not-call list, among the rejected): 0\n" in text
    # The test campaign's window is open all day: its five New York numbers are called now.
    assert text.endswith(" New York time (5 contacts)\n")
    assert "\n  now, " in text
    assert outcome.summary.summary_file is not None
    written = json.loads(Path(outcome.summary.summary_file).read_text())
    assert written["file"] == str(outcome.moved_to) == outcome.summary.file
    assert Path(written["file"]).parent == folder.archive


def test_a_receipt_is_never_written_through_a_link_and_the_import_stands(
    folder: InboxFolder,
    campaigns_dir: Path,
    engine: Engine,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("untouched")
    folder.receipts.mkdir()
    (folder.receipts / "a.csv.txt").symlink_to(elsewhere)
    claimed = claim_file(folder, drop(folder, "a.csv"))
    assert claimed is not None
    with caplog.at_level("WARNING", logger="campaigner.inbox"):
        outcome = process_claimed_file(
            engine=engine, campaigns_dir=campaigns_dir, claimed=claimed, out_dir=tmp_path / "out"
        )
    assert outcome.receipt is None
    assert outcome.moved_to.parent == folder.archive
    assert elsewhere.read_text() == "untouched"
    assert "the receipt of shop/a.csv skipped until the next look" in caplog.text


def test_the_same_bytes_under_another_name_are_imported_once(
    folder: InboxFolder, campaigns_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    outcomes = []
    for name in ["a.csv", "copy of a.csv"]:
        claimed = claim_file(folder, drop(folder, name))
        assert claimed is not None
        outcomes.append(
            process_claimed_file(
                engine=engine, campaigns_dir=campaigns_dir, claimed=claimed, out_dir=tmp_path
            )
        )
    assert [o.summary.already_ingested for o in outcomes if o.summary] == [False, True]
    assert all(outcome.moved_to.parent == folder.archive for outcome in outcomes)
    assert count(engine, Contact) == 5
    assert count(engine, SourceFile) == 1


def test_two_imports_of_the_same_bytes_at_once_import_them_once(
    folder: InboxFolder, campaigns_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    config = load_named_campaign(campaigns_dir, "shop")
    claims = [claim_file(folder, drop(folder, name)) for name in ["a.csv", "b.csv"]]
    start = threading.Barrier(2)
    summaries = []

    def importer(claimed: ClaimedFile | None) -> None:
        assert claimed is not None
        start.wait()
        summaries.append(
            import_claimed_file(engine=engine, config=config, claimed=claimed, out_dir=tmp_path)
        )

    threads = [threading.Thread(target=importer, args=(claimed,)) for claimed in claims]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(summary.already_ingested for summary in summaries) == [False, True]
    assert count(engine, Contact) == 5
    assert count(engine, SourceFile) == 1


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("notes.pdf", "%PDF-1.4", "unknown file type '.pdf'"),
        ("a.csv", "name\nAda\n", "phone"),
    ],
)
def test_a_file_that_cannot_be_imported_fails_with_its_reason(
    folder: InboxFolder,
    campaigns_dir: Path,
    engine: Engine,
    tmp_path: Path,
    name: str,
    text: str,
    reason: str,
) -> None:
    claimed = claim_file(folder, drop(folder, name, text=text))
    assert claimed is not None
    outcome = process_claimed_file(
        engine=engine, campaigns_dir=campaigns_dir, claimed=claimed, out_dir=tmp_path
    )
    assert outcome.error is not None
    assert reason in outcome.error
    assert outcome.moved_to.parent == folder.failed
    assert reason in (folder.failed / f"{outcome.moved_to.name}.error.txt").read_text()
    assert count(engine, SourceFile) == 0
    receipt = (folder.receipts / f"{name}.txt").read_text()
    assert receipt.startswith(f"{name}: NOT imported into campaign shop: the import failed.\n")
    assert f"Why: {outcome.error.splitlines()[0]}" in receipt


def test_a_folder_without_a_campaign_file_fails_its_files(
    tmp_path: Path, campaigns_dir: Path, engine: Engine
) -> None:
    folder = InboxFolder(tmp_path / "inbox" / "typo")
    folder.root.mkdir(parents=True)
    claimed = claim_file(folder, drop(folder, "a.csv"))
    assert claimed is not None
    outcome = process_claimed_file(
        engine=engine, campaigns_dir=campaigns_dir, claimed=claimed, out_dir=tmp_path
    )
    assert outcome.error is not None
    assert "typo.yaml: no such campaign file" in outcome.error
    assert outcome.moved_to.parent == folder.failed
    assert (folder.receipts / "a.csv.txt").read_text() == (
        "a.csv: NOT imported: inbox/typo/ is not the folder of a campaign.\n"
        "Put contact files into inbox/<campaign-name>/. The campaigns: shop.\n"
    )


@pytest.mark.parametrize("name", ["a.csv", LONG_NAME], ids=["short", "255 bytes"])
def test_a_file_dropped_into_the_inbox_itself_gets_one_receipt_saying_where_to_put_it(
    tmp_path: Path, campaigns_dir: Path, name: str
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    dropped = inbox / name
    dropped.write_text(CONTACTS)
    (inbox / ".DS_Store").write_text("")
    (receipt,) = advise_misplaced_files(inbox, campaigns_dir)
    assert receipt.file == f"inbox/{name}"
    assert receipt.path.parent == inbox / "receipts"
    assert len(receipt.path.name) <= 100 + len(".txt")
    assert receipt.path.read_text() == (
        f"{name}: NOT imported: inbox/ is not the folder of a campaign.\n"
        "Put contact files into inbox/<campaign-name>/. The campaigns: shop.\n"
    )
    assert advise_misplaced_files(inbox, campaigns_dir) == []
    assert dropped.read_text() == CONTACTS
    assert campaign_folders(inbox) == []


def test_a_claim_released_goes_back_under_its_own_name(folder: InboxFolder) -> None:
    claimed = claim_file(folder, drop(folder, "a.csv"))
    assert claimed is not None
    assert release_claim(claimed) == folder.root / "a.csv"
    assert release_claim(claimed) is None
    assert waiting_files(folder) == [folder.root / "a.csv"]


def after_the_import(monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], object]) -> None:
    """Make `meanwhile` happen as the import ends, before the file is archived."""
    real_ingest = inbox_module._ingest

    def ingest(*args: Any) -> IngestSummary:
        summary = real_ingest(*args)
        meanwhile()
        return summary

    monkeypatch.setattr(inbox_module, "_ingest", ingest)


def test_a_file_changed_while_imported_goes_back_and_its_rest_is_imported_next(
    folder: InboxFolder,
    campaigns_dir: Path,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A copy that stalled past the quiet period, then went on while the import read it."""
    head = contacts_csv(5)
    rest = "".join(contacts_csv(8).splitlines(keepends=True)[6:])
    claimed = claim_file(folder, drop(folder, "slow.csv", text=head))
    assert claimed is not None

    def the_copy_goes_on() -> None:
        with claimed.path.open("a") as still_open:
            still_open.write(rest)

    after_the_import(monkeypatch, the_copy_goes_on)
    outcome = process_claimed_file(
        engine=engine, campaigns_dir=campaigns_dir, claimed=claimed, out_dir=tmp_path / "out"
    )
    assert outcome.put_back
    assert outcome.summary is not None
    assert outcome.summary.accepted == 5
    assert outcome.moved_to == folder.root / "slow.csv"
    assert outcome.moved_to.read_text() == head + rest
    monkeypatch.undo()

    again = claim_file(folder, outcome.moved_to)
    assert again is not None
    second = process_claimed_file(
        engine=engine, campaigns_dir=campaigns_dir, claimed=again, out_dir=tmp_path / "out"
    )
    assert not second.put_back
    assert second.moved_to.parent == folder.archive
    assert second.summary is not None
    assert second.summary.accepted == 3
    assert count(engine, Contact) == 8


def test_putting_a_claim_back_never_replaces_a_file_dropped_under_its_name(
    folder: InboxFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    claimed = claim_file(folder, drop(folder, "a.csv"))
    assert claimed is not None
    real_link = os.link

    def link_after_a_drop(source: str | Path, target: str | Path) -> None:
        # The same name dropped again in the instant between any check and the move.
        if Path(target).name == "a.csv" and not Path(target).exists():
            drop(folder, "a.csv", text="phone\n+12125550111\n")
        real_link(source, target)

    monkeypatch.setattr(os, "link", link_after_a_drop)
    assert release_claim(claimed) == folder.root / claimed.path.name
    assert (folder.root / "a.csv").read_text() == "phone\n+12125550111\n"
    assert (folder.root / claimed.path.name).read_text() == CONTACTS
    assert not claimed.path.exists()


def test_without_hard_links_a_claim_still_goes_back_without_replacing(
    folder: InboxFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_hard_links(source: str | Path, target: str | Path) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_hard_links)
    first = claim_file(folder, drop(folder, "a.csv"))
    assert first is not None
    drop(folder, "a.csv", text="phone\n+12125550111\n")
    assert release_claim(first) == folder.root / first.path.name
    assert (folder.root / "a.csv").read_text() == "phone\n+12125550111\n"
    second = claim_file(folder, folder.root / "a.csv")
    assert second is not None
    assert release_claim(second) == folder.root / "a.csv"


def test_a_failed_file_has_its_reason_written_before_it_moves(
    folder: InboxFolder, monkeypatch: pytest.MonkeyPatch
) -> None:
    claimed = claim_file(folder, drop(folder, "a.csv"))
    assert claimed is not None

    def crash(*args: object) -> None:
        raise OSError("killed between the two steps")

    monkeypatch.setattr(os, "rename", crash)
    with pytest.raises(OSError, match="killed"):
        fail_file(claimed, "no phone column")
    assert claimed.path.exists()  # still claimed: tried again once the claim is stale
    assert "no phone column" in (folder.failed / f"{claimed.path.name}.error.txt").read_text()


def test_a_claim_another_watcher_put_back_mid_import_is_left_to_it(
    folder: InboxFolder,
    campaigns_dir: Path,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An import that outlived `stale_after`: another watcher released the claim meanwhile."""
    claimed = claim_file(folder, drop(folder, "slow.csv"))
    assert claimed is not None
    after_the_import(
        monkeypatch,
        lambda: release_stale_claims(
            folder, older_than=timedelta(0), now=datetime.now(UTC) + MINUTE
        ),
    )
    outcome = process_claimed_file(
        engine=engine, campaigns_dir=campaigns_dir, claimed=claimed, out_dir=tmp_path / "out"
    )
    assert outcome.put_back
    assert outcome.moved_to == folder.root
    assert waiting_files(folder) == [folder.root / "slow.csv"]
    assert count(engine, Contact) == 5


DOTENV_KEY = "key_0123456789abcdef0123456789ab"
DOTENV = f"RETELL_API_KEY={DOTENV_KEY}\nCAMPAIGNER_DATABASE_URL=sqlite:///x.db\n"


def test_a_symlink_to_a_secret_is_refused_without_reading_its_target(
    folder: InboxFolder, campaigns_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    """Issue 19 row 1: the import read the link's target and echoed its first line."""
    dotenv = tmp_path / ".env"
    dotenv.write_text(DOTENV)
    link = folder.root / "contacts.csv"
    link.symlink_to(dotenv)
    claimed = claim_file(folder, link)
    assert claimed is not None
    outcome = process_claimed_file(
        engine=engine, campaigns_dir=campaigns_dir, claimed=claimed, out_dir=tmp_path / "out"
    )
    assert outcome.error is not None
    assert "contacts.csv: a symbolic link" in outcome.error
    assert outcome.moved_to.parent == folder.failed
    assert outcome.moved_to.is_symlink()  # the link moved, its target left where it was
    assert dotenv.read_text() == DOTENV
    (error_file,) = folder.failed.glob("*.error.txt")
    assert "only regular files" in error_file.read_text()
    assert DOTENV_KEY not in error_file.read_text() + outcome.error
    assert count(engine, SourceFile) == 0


def linked_elsewhere(folder: InboxFolder, working_folder: str, tmp_path: Path) -> Path:
    """Make `working_folder` a link to an outside folder, and return that folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder.root / working_folder).symlink_to(elsewhere, target_is_directory=True)
    return elsewhere


def test_a_symlinked_processing_folder_is_refused_and_nothing_is_claimed_through_it(
    folder: InboxFolder, tmp_path: Path
) -> None:
    """Issue 19 row 1: a symlinked working folder redirected the inbox's writes."""
    elsewhere = linked_elsewhere(folder, "processing", tmp_path)
    path = drop(folder, "a.csv")
    with pytest.raises(inbox_module.InboxFolderError, match="shop/processing/ is a symbolic link"):
        claim_file(folder, path)
    assert path.exists()
    assert list(elsewhere.iterdir()) == []


MOVES: dict[str, Callable[[ClaimedFile], Path]] = {
    "archive": finish_file,
    "failed": lambda claimed: fail_file(claimed, "no phone column"),
}


@pytest.mark.parametrize("working_folder", list(MOVES))
def test_a_symlinked_archive_or_failed_folder_is_refused_and_nothing_is_written_through_it(
    folder: InboxFolder, tmp_path: Path, working_folder: str
) -> None:
    claimed = claim_file(folder, drop(folder, "a.csv"))
    assert claimed is not None
    elsewhere = linked_elsewhere(folder, working_folder, tmp_path)
    with pytest.raises(inbox_module.InboxFolderError, match=f"shop/{working_folder}/ is a symb"):
        MOVES[working_folder](claimed)
    assert claimed.path.exists()
    assert list(elsewhere.iterdir()) == []


def test_a_fifo_is_refused_without_being_opened(folder: InboxFolder, tmp_path: Path) -> None:
    """A named pipe nobody writes to would block a reader for good: it is never opened."""
    os.mkfifo(folder.root / "pipe.csv")
    drop(folder, "a.csv")
    assert waiting_files(folder) == [folder.root / "a.csv"]
    assert inbox_module.refused_files(folder) == {
        folder.root / "pipe.csv": "a named pipe (FIFO): the inbox takes only regular files; "
        "copy the file itself into the folder"
    }


LONG_NAMES = [LONG_NAME, "n" * 216 + ".csv"]


@pytest.mark.parametrize("name", LONG_NAMES, ids=["255 bytes", "220 bytes"])
def test_a_file_with_a_long_name_is_claimed_imported_and_failed_under_a_short_one(
    folder: InboxFolder, campaigns_dir: Path, engine: Engine, tmp_path: Path, name: str
) -> None:
    """Issue 19 row 2: claimed names longer than 255 bytes (the name, a stamp and more)."""
    imported = claim_file(folder, drop(folder, name))
    assert imported is not None
    assert imported.original_name == name
    assert len(imported.path.name) < 100
    outcome = process_claimed_file(
        engine=engine, campaigns_dir=campaigns_dir, claimed=imported, out_dir=tmp_path / "out"
    )
    assert outcome.summary is not None
    assert outcome.summary.accepted == 5
    assert outcome.moved_to.parent == folder.archive

    unusable = claim_file(folder, drop(folder, name, text="name\nAda\n"))
    assert unusable is not None
    failed = process_claimed_file(
        engine=engine, campaigns_dir=campaigns_dir, claimed=unusable, out_dir=tmp_path / "out"
    )
    assert failed.error is not None
    assert failed.error.startswith(f"{name}: column 'phone' not found")
    assert unusable.path.name not in failed.error
    (error_file,) = folder.failed.glob("*.error.txt")
    assert f"{name} could not be imported" in error_file.read_text()


def test_a_file_modified_in_the_future_settles_once_it_stops_changing(
    folder: InboxFolder, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 19 row 13: clock skew on a network share put the modification time ahead."""
    clock = FakeFileClock()
    path = drop(folder, "skewed.csv")
    an_hour_ahead = clock.now + 3600
    os.utime(path, (an_hour_ahead, an_hour_ahead))
    with caplog.at_level("WARNING", logger="campaigner.inbox"):
        assert settled_files([path], quiet_seconds=5, clock=clock) == [path]
    assert "shop/skewed.csv" in caplog.text
    assert "3595 s in the future" in caplog.text


def test_a_file_modified_in_the_future_and_still_changing_is_left_alone(
    folder: InboxFolder,
) -> None:
    path = drop(folder, "skewed.csv")

    def the_copy_goes_on() -> None:
        with path.open("a") as handle:
            handle.write("+12125550199\n")
        os.utime(path, (time.time() + 3600, time.time() + 3600))

    clock = FakeFileClock(during_sleep=the_copy_goes_on)
    os.utime(path, (clock.now + 3600, clock.now + 3600))
    assert settled_files([path], quiet_seconds=5, clock=clock) == []


def test_an_error_quoting_a_dropped_secret_masks_it(
    folder: InboxFolder, campaigns_dir: Path, engine: Engine, tmp_path: Path
) -> None:
    """A copy of a .env file (a regular file) fails: the header it quotes comes back masked."""
    claimed = claim_file(folder, drop(folder, "settings.csv", text=DOTENV))
    assert claimed is not None
    outcome = process_claimed_file(
        engine=engine, campaigns_dir=campaigns_dir, claimed=claimed, out_dir=tmp_path / "out"
    )
    assert outcome.error is not None
    assert "settings.csv: column 'phone' not found; the file has 'RETELL_API_KEY=***'" in (
        outcome.error
    )
    (error_file,) = folder.failed.glob("*.error.txt")
    assert DOTENV_KEY not in error_file.read_text() + outcome.error


def test_one_look_takes_every_campaign_past_a_bad_file_or_folder(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file the file system refuses to move, or a campaign with a linked failed/ folder,
    stops nothing but itself."""
    inbox = tmp_path / "inbox"
    shop, pharmacy, clinic = (InboxFolder(inbox / name) for name in ("shop", "pharmacy", "clinic"))
    for folder in (shop, pharmacy, clinic):
        folder.root.mkdir(parents=True)
        drop(folder, "a.csv")
    drop(shop, "stuck.csv")
    os.mkfifo(shop.root / "pipe.csv")
    elsewhere = linked_elsewhere(pharmacy, "failed", tmp_path)
    real_rename = os.rename

    def rename_refusing_stuck(source: str | Path, target: str | Path) -> None:
        if Path(source).name == "stuck.csv":
            raise OSError(errno.EIO, "Input/output error", str(source))
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", rename_refusing_stuck)
    with caplog.at_level("WARNING", logger="campaigner.inbox"):
        look = inbox_module.take_files(
            inbox, quiet_seconds=0, stale_after=MINUTE, clock=FakeFileClock()
        )
    assert sorted(f"{c.folder.campaign}/{c.original_name}" for c in look.claims) == [
        "clinic/a.csv",
        "shop/a.csv",
    ]
    (refused,) = look.refused
    assert refused.file == "pipe.csv"
    assert refused.error == (
        "pipe.csv: a named pipe (FIFO): the inbox takes only regular files; "
        "copy the file itself into the folder"
    )
    assert refused.moved_to.parent == shop.failed
    assert (shop.root / "stuck.csv").exists()
    assert (pharmacy.root / "a.csv").exists()
    assert list(elsewhere.iterdir()) == []
    assert "shop/stuck.csv skipped until the next look: Input/output error" in caplog.text
    assert "inbox/pharmacy/ skipped until the next look: pharmacy/failed/ is a symbolic link" in (
        caplog.text
    )


def test_a_failed_import_that_cannot_be_moved_stays_claimed_and_says_so(
    folder: InboxFolder, tmp_path: Path
) -> None:
    """After an import that raised, a linked failed/ (or a full disk) ended the whole run."""
    long_name = "n" * 251 + ".csv"
    claimed = claim_file(folder, drop(folder, long_name))
    assert claimed is not None
    elsewhere = linked_elsewhere(folder, "failed", tmp_path)
    line = inbox_module.settle_failed_import(
        claimed, f"ValueError: bad row in {claimed.path}", for_good=True
    )
    assert line == (
        f"shop/{long_name} stays in processing/ until its claim is stale, its import failed "
        f"(ValueError: bad row in {long_name}) and it could not be moved: shop/failed/ is a "
        "symbolic link, not a folder: the inbox writes only into real folders, never where a "
        "link points; make it a folder"
    )
    assert claimed.path.exists()
    assert list(elsewhere.iterdir()) == []


def test_a_failed_import_goes_to_failed_for_good_or_back_for_now(folder: InboxFolder) -> None:
    for_good = claim_file(folder, drop(folder, "a.csv"))
    for_now = claim_file(folder, drop(folder, "b.csv"))
    assert for_good is not None
    assert for_now is not None
    assert inbox_module.settle_failed_import(
        for_good, "ValueError: token=abc123", for_good=True
    ) == ("shop/a.csv moved to failed/: the import failed: ValueError: token=***")
    assert inbox_module.settle_failed_import(
        for_now, "OperationalError: unable to open database file", for_good=False
    ) == (
        "shop/b.csv put back into the inbox, its import failed: "
        "OperationalError: unable to open database file"
    )
    assert [path.name for path in waiting_files(folder)] == ["b.csv"]
    assert [path.name for path in folder.failed.iterdir() if path.suffix == ".csv"] == [
        for_good.path.name
    ]
    assert [path.name for path in folder.receipts.iterdir()] == ["a.csv.txt"]
    assert (folder.receipts / "a.csv.txt").read_text().splitlines()[:2] == [
        "a.csv: NOT imported into campaign shop: the import failed.",
        "Why: the import failed: ValueError: token=***",
    ]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("the file has 'RETELL_API_KEY=key_abc123', 'x'", "the file has 'RETELL_API_KEY=***', 'x'"),
        ('export RETELL_API_KEY="key_abc123"', 'export RETELL_API_KEY=***"'),
        ("api_key: key_abc123; next", "api_key: ***; next"),
        ("header 'key_abc123'", "header 'key_***'"),
        ("Password = hunter2, then", "Password = ***, then"),
        ("campaigns/typo.yaml: no such campaign file", None),
        ("a.csv: column 'phone' not found; the file has 'name'", None),
    ],
)
def test_a_reason_shows_no_secret_and_leaves_the_rest_alone(text: str, shown: str | None) -> None:
    assert inbox_module.masked_excerpt(text) == (shown or text)


def test_a_long_reason_is_cut_short_once() -> None:
    excerpt = inbox_module.masked_excerpt("x" * 5000)
    assert len(excerpt) == 1000
    assert excerpt.endswith("… (cut short)")
    assert inbox_module.masked_excerpt(excerpt) == excerpt


def test_a_link_swapped_in_after_the_look_is_refused_by_its_descriptor(
    folder: InboxFolder,
    campaigns_dir: Path,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`lstat` saw a regular file; by the time it is opened, a link to a secret is there."""
    dotenv = tmp_path / ".env"
    dotenv.write_text(DOTENV)
    claimed = claim_file(folder, drop(folder, "a.csv"))
    assert claimed is not None
    regular_status = os.lstat(claimed.path)
    claimed.path.unlink()
    claimed.path.symlink_to(dotenv)
    real_lstat = os.lstat

    def lstat_before_the_swap(path: str | Path) -> os.stat_result:
        return regular_status if Path(path) == claimed.path else real_lstat(path)

    monkeypatch.setattr(os, "lstat", lstat_before_the_swap)
    outcome = process_claimed_file(
        engine=engine, campaigns_dir=campaigns_dir, claimed=claimed, out_dir=tmp_path / "out"
    )
    assert outcome.error is not None
    assert outcome.error.startswith("a.csv: a symbolic link")
    assert DOTENV_KEY not in outcome.error
    assert count(engine, SourceFile) == 0


def test_a_pipe_left_claimed_by_a_watcher_that_died_goes_back_to_be_refused(
    folder: InboxFolder,
) -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    os.mkfifo(folder.root / "pipe.csv")
    claimed = claim_file(folder, folder.root / "pipe.csv", now=now - timedelta(hours=2))
    assert claimed is not None
    (folder.processing / "20260501T090000Z-0123abcd-a folder.csv").mkdir()  # not a claim
    assert release_stale_claims(folder, older_than=timedelta(hours=1), now=now) == [
        folder.root / "pipe.csv"
    ]
    assert list(inbox_module.refused_files(folder)) == [folder.root / "pipe.csv"]
