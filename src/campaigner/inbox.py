"""The inbox: campaign managers drop contact files into it, and each file is imported exactly once.

```
inbox/
  <campaign>/          drop files here; <campaign> names campaigns/<campaign>.yaml
    processing/        files claimed by a watcher, while they are imported
    archive/           files imported (or found to repeat an earlier import: imported once)
    failed/            files that could not be imported, each beside <name>.error.txt saying why
```

Exactly once, even with several watchers on one folder:

1. **Settled files only.** A file is taken when its size and modification time have not changed
   over `quiet_seconds`, so a copy still in progress is left alone (`settled_files`).
2. **Claim by rename.** `claim_file` renames the file into `processing/` under a unique name; the
   rename is atomic on one file system, so of two watchers exactly one wins and the other sees the
   file gone.
3. **Content hash in the store.** The same bytes imported again into a campaign, under any name,
   change nothing (`ingest_contacts_file` keys each import on its SHA-256, unique in the store);
   `import_claimed_file` resolves two imports of the same bytes racing each other.
4. **Nothing lost.** A claim left behind by a watcher that died is put back into the inbox after
   `stale_after` (`release_stale_claims`), and the next watcher imports it (or finds it imported).
   A file that changed while it was imported (a copy that stalled past the quiet period, then
   went on) goes back into the inbox too: its next import adds the rows the first one missed.
   Nothing put back ever replaces a file dropped under the same name meanwhile.

Nothing here imports Prefect: the `watch-inbox` flow composes these functions.
"""

from __future__ import annotations

import errno
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol
from uuid import uuid4

from campaigner.campaign import CampaignConfig, CampaignFileError, load_campaign
from campaigner.contacts import (
    ContactFileError,
    IngestConflict,
    IngestSummary,
    ingest_contacts_file,
)
from campaigner.store import Engine, IntegrityError, transaction

__all__ = [
    "ARCHIVE",
    "FAILED",
    "PROCESSING",
    "ClaimedFile",
    "FileClock",
    "FileOutcome",
    "InboxFolder",
    "SystemFileClock",
    "campaign_folders",
    "changed_since_claim",
    "claim_file",
    "fail_file",
    "finish_file",
    "import_claimed_file",
    "load_named_campaign",
    "process_claimed_file",
    "release_claim",
    "release_stale_claims",
    "settled_files",
    "waiting_files",
]

PROCESSING = "processing"
ARCHIVE = "archive"
FAILED = "failed"
ERROR_SUFFIX = ".error.txt"
# Names that editors, browsers and copy tools give files they have not finished writing.
_UNFINISHED_PREFIXES = (".", "~$", "~")
_UNFINISHED_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".filepart")
_CLAIM_STAMP = "%Y%m%dT%H%M%SZ"
_CLAIMED_NAME = re.compile(r"^(?P<stamp>\d{8}T\d{6}Z)-[0-9a-f]{8}-(?P<name>.+)$")


class FileClock(Protocol):
    """Wall-clock time in epoch seconds (compared with file times) and sleeping."""

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemFileClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass(frozen=True)
class InboxFolder:
    """The inbox folder of one campaign and its working subfolders."""

    root: Path

    @property
    def campaign(self) -> str:
        return self.root.name

    @property
    def processing(self) -> Path:
        return self.root / PROCESSING

    @property
    def archive(self) -> Path:
        return self.root / ARCHIVE

    @property
    def failed(self) -> Path:
        return self.root / FAILED


@dataclass(frozen=True)
class ClaimedFile:
    """A file this watcher owns: it sits in `processing/` under a name no other claim has.

    `stat_at_claim` is its (modification time in ns, size) when claimed: a writer that still holds
    the file open writes on into the renamed file, and a different stat after the import says so.
    """

    folder: InboxFolder
    path: Path
    original_name: str
    claimed_at: datetime
    stat_at_claim: tuple[int, int] | None = None


def campaign_folders(inbox: Path) -> list[InboxFolder]:
    """The campaign folders of the inbox (hidden folders left out), by name."""
    if not inbox.is_dir():
        return []
    return [
        InboxFolder(child)
        for child in sorted(inbox.iterdir())
        if child.is_dir() and not child.name.startswith(".")
    ]


def waiting_files(folder: InboxFolder) -> list[Path]:
    """Files dropped into the folder and not yet claimed, oldest first.

    Hidden files and the temporary names of unfinished downloads and Office lock files are not
    contact files (yet).
    """
    if not folder.root.is_dir():
        return []
    files = [
        path
        for path in folder.root.iterdir()
        if path.is_file()
        and not path.name.startswith(_UNFINISHED_PREFIXES)
        and not path.name.lower().endswith(_UNFINISHED_SUFFIXES)
    ]
    return sorted(files, key=lambda path: (_stat_or_none(path) or (0, 0), path.name))


def _stat_or_none(path: Path) -> tuple[int, int] | None:
    """(modification time in ns, size), or None when the file is gone."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_mtime_ns, stat.st_size


def settled_files(
    paths: Sequence[Path], *, quiet_seconds: float, clock: FileClock | None = None
) -> list[Path]:
    """The files whose size and modification time stay the same over `quiet_seconds`.

    Looks at every file twice, `quiet_seconds` apart (one sleep for all of them), and keeps those
    unchanged and last modified at least `quiet_seconds` ago: a file still being copied grows or
    is touched in between. Files that vanish meanwhile (another watcher claimed them) are left out.
    """
    if not paths:
        return []
    clock = clock or SystemFileClock()
    before = {path: _stat_or_none(path) for path in paths}
    clock.sleep(quiet_seconds)
    now_ns = clock.time() * 1e9
    settled = []
    for path in paths:
        after = _stat_or_none(path)
        if after is None or after != before[path]:
            continue
        if now_ns - after[0] >= quiet_seconds * 1e9:
            settled.append(path)
    return settled


def claim_file(
    folder: InboxFolder, path: Path, *, now: datetime | None = None
) -> ClaimedFile | None:
    """Take `path` by renaming it into `processing/`; None if another watcher took it first."""
    claimed_at = now or datetime.now(UTC)
    folder.processing.mkdir(parents=True, exist_ok=True)
    target = folder.processing / f"{claimed_at:{_CLAIM_STAMP}}-{uuid4().hex[:8]}-{path.name}"
    try:
        # Atomic within one file system: exactly one of several renames of one file succeeds.
        os.rename(path, target)
    except FileNotFoundError:
        return None
    return ClaimedFile(
        folder=folder,
        path=target,
        original_name=path.name,
        claimed_at=claimed_at,
        stat_at_claim=_stat_or_none(target),
    )


def changed_since_claim(claimed: ClaimedFile) -> bool:
    """Whether the claimed file's size or modification time moved since it was claimed."""
    return _stat_or_none(claimed.path) != claimed.stat_at_claim


def finish_file(claimed: ClaimedFile) -> Path:
    """Move an imported file into `archive/` (keeping its claimed name, unique and dated)."""
    return _move(claimed.path, claimed.folder.archive)


def fail_file(claimed: ClaimedFile, reason: str) -> Path:
    """Move a file that could not be imported into `failed/`, beside an error file saying why.

    The reason is written first: a crash in between leaves the file claimed (it is tried again
    once the claim is stale), never a failed file without its reason.
    """
    claimed.folder.failed.mkdir(parents=True, exist_ok=True)
    error_file = claimed.folder.failed / (claimed.path.name + ERROR_SUFFIX)
    error_file.write_text(
        f"{claimed.original_name} could not be imported into campaign {claimed.folder.campaign}.\n"
        f"Claimed at {claimed.claimed_at:%Y-%m-%d %H:%M:%S} UTC.\n\n"
        f"{reason.rstrip()}\n\n"
        "Fix the file and drop it into the inbox again.\n",
        encoding="utf-8",
    )
    return _move(claimed.path, claimed.folder.failed)


def _move(path: Path, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / path.name
    os.rename(path, target)
    return target


def release_stale_claims(
    folder: InboxFolder, *, older_than: timedelta, now: datetime | None = None
) -> list[Path]:
    """Put files claimed longer than `older_than` ago back into the inbox, under their own name.

    A watcher that dies between claiming a file and archiving it leaves the file in
    `processing/`; released, it is imported by the next watcher, or found imported already (the
    store knows its content hash). Returns where the files went back to.
    """
    if not folder.processing.is_dir():
        return []
    cutoff = (now or datetime.now(UTC)) - older_than
    released = []
    for path in sorted(folder.processing.iterdir()):
        match = _CLAIMED_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        claimed_at = datetime.strptime(match["stamp"], _CLAIM_STAMP).replace(tzinfo=UTC)
        if claimed_at > cutoff:
            continue
        target = _put_back(path, folder, match["name"])
        if target is None:
            continue  # another watcher released it first
        released.append(target)
    return released


def release_claim(claimed: ClaimedFile) -> Path | None:
    """Put a claimed file back into the inbox (its import failed for now: the next watcher tries
    again). Returns where it went, or None if it was no longer claimed."""
    return _put_back(claimed.path, claimed.folder, claimed.original_name)


def _put_back(path: Path, folder: InboxFolder, original_name: str) -> Path | None:
    """Move a claimed file back into the inbox: its own name, or its claimed one if taken.

    A hard link, unlike a rename, never replaces a file already there (one dropped under the same
    name a moment ago). Two watchers putting one claim back at once may leave it under both names;
    the second copy is then found imported already, by its content hash.
    """
    for target in (folder.root / original_name, folder.root / path.name):
        try:
            _move_without_replacing(path, target)
        except FileExistsError:
            continue
        except FileNotFoundError:
            return None
        return target
    return None


def _move_without_replacing(path: Path, target: Path) -> None:
    """Move `path` to `target`; FileExistsError if `target` exists."""
    try:
        os.link(path, target)
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.EOPNOTSUPP):
            raise
        # No hard links on this file system (some network shares): check, then rename.
        if target.exists():
            raise FileExistsError(errno.EEXIST, "exists", str(target)) from error
        os.rename(path, target)
        return
    path.unlink(missing_ok=True)


def load_named_campaign(campaigns_dir: Path, name: str) -> CampaignConfig:
    """The campaign `campaigns_dir/<name>.yaml`, which must be named `name` inside too."""
    path = campaigns_dir / f"{name}.yaml"
    config = load_campaign(path)
    if config.name != name:
        raise CampaignFileError(
            f"{path}: names its campaign {config.name!r}; the file must be {config.name}.yaml "
            f"(the inbox folder and the campaign file are found by the campaign's name)"
        )
    return config


def import_claimed_file(
    *, engine: Engine, config: CampaignConfig, claimed: ClaimedFile, out_dir: Path
) -> IngestSummary:
    """Import a claimed file into the campaign, and commit.

    Two watchers importing the same bytes under two names at the same moment collide on the
    content hash (or on the numbers): the loser imports again and finds the winner's import, so
    the file counts as a repeat rather than failing.
    """
    try:
        return _ingest(engine, config, claimed.path, out_dir)
    except (IngestConflict, IntegrityError):
        return _ingest(engine, config, claimed.path, out_dir)


def _ingest(engine: Engine, config: CampaignConfig, path: Path, out_dir: Path) -> IngestSummary:
    with transaction(engine) as session:
        return ingest_contacts_file(session=session, config=config, path=path, out_dir=out_dir)


_UNUSABLE_FILE_ERRORS = (CampaignFileError, ContactFileError, IngestConflict)
"""Errors that say the file (or its campaign file) cannot be imported as it is: importing the same
bytes again cannot help, so the file goes to `failed/`. Anything else (the store unreachable, a
full disk) leaves the file claimed, for a retry or, after `stale_after`, the next watcher."""


@dataclass(frozen=True)
class FileOutcome:
    """What became of one claimed file: imported (or a repeat, `summary.already_ingested`), or
    failed with `error`. `moved_to` is where the file now is; `put_back` says it went back into
    the inbox because it changed while it was imported."""

    campaign: str
    file: str
    moved_to: Path
    summary: IngestSummary | None = None
    error: str | None = None
    put_back: bool = False


def process_claimed_file(
    *, engine: Engine, campaigns_dir: Path, claimed: ClaimedFile, out_dir: Path
) -> FileOutcome:
    """Import a claimed file into its folder's campaign, then archive it, or fail it with why."""
    campaign = claimed.folder.campaign
    try:
        config = load_named_campaign(campaigns_dir, campaign)
        summary = import_claimed_file(
            engine=engine, config=config, claimed=claimed, out_dir=out_dir
        )
    except _UNUSABLE_FILE_ERRORS as error:
        reason = str(error) or type(error).__name__
        moved = fail_file(claimed, reason)
        return FileOutcome(campaign, claimed.original_name, moved, error=reason)
    if changed_since_claim(claimed):
        # Still being written: what was read is imported; the whole file, once settled, is
        # imported again as a new file and adds only the contacts this import did not have.
        # Or gone: another watcher took the claim for stale and put it back (found imported).
        put_back = release_claim(claimed) or claimed.folder.root
        return FileOutcome(campaign, claimed.original_name, put_back, summary, put_back=True)
    return FileOutcome(campaign, claimed.original_name, finish_file(claimed), summary=summary)
