"""The inbox: campaign managers drop contact files into it, and each file is imported exactly once.

```
inbox/
  <campaign>/          drop files here; <campaign> names campaigns/<campaign>.yaml
    processing/        files claimed by a watcher, while they are imported
    archive/           files imported (or found to repeat an earlier import: imported once)
    failed/            files that could not be imported, each beside <name>.error.txt saying why
    receipts/          <dropped name>.txt: what became of each file dropped, in plain words
  receipts/            for files dropped into the inbox itself: where to put them instead
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
5. **Regular files only.** A symbolic link, a named pipe or any other special file is never opened:
   it is moved to `failed/` beside the reason (`refused_files`). A working folder
   (`processing/`, `archive/`, `failed/`) that is a link stops its campaign's folder, never the
   others (`check_working_folders`): the inbox writes nothing where a link points.
6. **One bad file stops nothing else.** An `OSError` on one file (or one campaign folder) is
   logged and that file is left for the next look (`take_files`). Claimed names stay short
   whatever the dropped name's length, and every message names the file as it was dropped,
   with anything that looks like a secret masked (`ClaimedFile.in_users_words`).
7. **A receipt for every file dropped**, beside it in `receipts/` (`campaigner.receipts` says
   what it holds): the counts of its import and when its campaign's first calls go out, or why it
   failed. A file dropped into the inbox itself gets one receipt saying where to put it
   (`advise_misplaced_files`). A receipt that cannot be written is logged; the import stands.

Nothing here imports Prefect: the `watch-inbox` flow composes these functions.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ParamSpec, Protocol, TypeVar
from uuid import uuid4

from campaigner.campaign import CampaignConfig, CampaignFileError, load_campaign
from campaigner.contacts import (
    ContactFileError,
    IngestConflict,
    IngestSummary,
    ingest_contacts_file,
)
from campaigner.contacts.ingest import write_summary_file
from campaigner.receipts import (
    failed_receipt,
    import_receipt,
    misplaced_receipt,
    read_first_calls,
)
from campaigner.store import DatabaseError, Engine, IntegrityError, transaction

__all__ = [
    "ARCHIVE",
    "FAILED",
    "PROCESSING",
    "RECEIPTS",
    "ClaimedFile",
    "FileClock",
    "FileOutcome",
    "InboxFolder",
    "InboxFolderError",
    "InboxLook",
    "Receipt",
    "SystemFileClock",
    "advise_misplaced_files",
    "campaign_folders",
    "changed_since_claim",
    "check_working_folders",
    "claim_file",
    "describe_os_error",
    "fail_file",
    "finish_file",
    "import_claimed_file",
    "known_campaigns",
    "load_named_campaign",
    "masked_excerpt",
    "process_claimed_file",
    "refuse_file",
    "refused_files",
    "release_claim",
    "release_stale_claims",
    "settle_failed_import",
    "settled_files",
    "take_files",
    "waiting_files",
]

log = logging.getLogger(__name__)
_Result = TypeVar("_Result")
_Params = ParamSpec("_Params")

PROCESSING = "processing"
ARCHIVE = "archive"
FAILED = "failed"
RECEIPTS = "receipts"
"""Receipts go here, in each campaign's folder and in the inbox itself (for files dropped there):
a campaign named `receipts` has no inbox folder."""
WORKING_FOLDERS = (PROCESSING, ARCHIVE, FAILED, RECEIPTS)
ERROR_SUFFIX = ".error.txt"
KEPT_NAME_BYTES = 100
"""A dropped name longer than this (in bytes) is claimed as a hash of it and its suffix: file
systems allow 255 bytes per name, and the claimed name grows a stamp, then `.error.txt` in
`failed/` and the import's `.rejected.csv` (which names the claimed file)."""
_KEPT_SUFFIX_BYTES = 16  # longer than any contact file's suffix: such a file fails for its type
# Where the platform has them (not on Windows): open a file itself, never what a link points to,
# and never wait for a writer on a named pipe.
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NO_BLOCK = getattr(os, "O_NONBLOCK", 0)
_NOT_REGULAR_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a folder"),
)
_EXCERPT_CHARS = 1000
_CUT_SHORT = "… (cut short)"
# What an error quoting a dropped file may carry of a secret: `NAME=value` lines of a .env file,
# `api_key: value` and the like, and Retell keys (`key_…`). The value is masked, the name kept.
_SECRET_VALUES = re.compile(
    r"(?P<name>\b[A-Z][A-Z0-9_]*=|(?i:\b\w*(?:key|secret|token|passw(?:or)?d)\w*\s*[:=]\s*)"
    r"|\bkey_)['\"]?[^\s'\",;]+"
)
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


class InboxFolderError(OSError):
    """A working folder of a campaign (`processing/`, `archive/`, `failed/`) is not a folder: a
    link there would send the inbox's files, and what it writes, wherever it points."""


class NotARegularFile(Exception):
    """A claimed file is a link, a pipe or another special file: it is never opened or read."""


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

    @property
    def receipts(self) -> Path:
        return self.root / RECEIPTS


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

    def in_users_words(self, text: str) -> str:
        """`text` (an error) naming the file as it was dropped rather than by its claimed path,
        as a masked excerpt: it goes to logs, artifacts and `failed/`."""
        dropped = text.replace(str(self.path), self.original_name)
        return masked_excerpt(dropped.replace(self.path.name, self.original_name))


def masked_excerpt(text: str) -> str:
    """`text` cut to a length fit for a log line, with every value that looks like a secret masked.

    Errors about a dropped file quote its header; a `.env` dropped by mistake must not put its
    key into the logs.
    """
    masked = _SECRET_VALUES.sub(lambda match: f"{match['name']}***", text)
    if len(masked) <= _EXCERPT_CHARS:
        return masked
    # Cut to the limit, marker included: an excerpt of an excerpt is the same text.
    return masked[: _EXCERPT_CHARS - len(_CUT_SHORT)] + _CUT_SHORT


def describe_os_error(error: OSError) -> str:
    """What went wrong, without the paths an `OSError` names (claimed names, not the user's)."""
    return error.strerror or str(error) or type(error).__name__


def campaign_folders(inbox: Path) -> list[InboxFolder]:
    """The campaign folders of the inbox (hidden folders and the inbox's receipts left out), by
    name."""
    if not inbox.is_dir():
        return []
    return [
        InboxFolder(child)
        for child in sorted(inbox.iterdir())
        if child.is_dir() and not child.name.startswith(".") and child.name != RECEIPTS
    ]


def known_campaigns(campaigns_dir: Path) -> list[str]:
    """The campaigns a file may be dropped for: the names of the campaign files, sorted."""
    if not campaigns_dir.is_dir():
        return []
    return sorted(
        path.stem for path in campaigns_dir.glob("*.yaml") if not path.name.startswith(".")
    )


def check_working_folders(folder: InboxFolder) -> None:
    """Raise `InboxFolderError` when `processing/`, `archive/`, `failed/` or `receipts/` is there
    but is not a folder (a symbolic link, say): nothing of the campaign is taken until it is
    one."""
    for name in WORKING_FOLDERS:
        _checked_working_folder(folder, name)


def _checked_working_folder(folder: InboxFolder, name: str) -> Path:
    path = folder.root / name
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    if not stat.S_ISDIR(mode):
        raise InboxFolderError(
            f"{folder.campaign}/{name}/ is {_kind(mode)}, not a folder: the inbox writes only "
            "into real folders, never where a link points; make it a folder"
        )
    return path


def _working_folder(folder: InboxFolder, name: str) -> Path:
    """The working folder `name`, made if missing; `InboxFolderError` when it is not a folder."""
    path = folder.root / name
    # Not mkdir(exist_ok=True): that accepts a link to a folder.
    with contextlib.suppress(FileExistsError):
        path.mkdir()
    return _checked_working_folder(folder, name)


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    return next((kind for is_kind, kind in _NOT_REGULAR_KINDS if is_kind(mode)), "a special file")


def _refusal(mode: int) -> str:
    return (
        f"{_kind(mode)}: the inbox takes only regular files; copy the file itself into the folder"
    )


def _dropped_entries(folder: InboxFolder) -> list[tuple[Path, os.stat_result]]:
    """What was dropped into the folder, with its own status (links not followed).

    Hidden files, the temporary names of unfinished downloads and Office lock files, and the
    working folders are not dropped files (yet). An entry that cannot be looked at is logged and
    left out: the others go on.
    """
    if not folder.root.is_dir():
        return []
    entries = []
    with os.scandir(folder.root) as scan:
        for entry in scan:
            name = entry.name
            if (
                name in WORKING_FOLDERS
                or name.startswith(_UNFINISHED_PREFIXES)
                or name.lower().endswith(_UNFINISHED_SUFFIXES)
            ):
                continue
            status = _or_warning(f"{folder.campaign}/{name}", entry.stat, follow_symlinks=False)
            if status is not None:
                entries.append((Path(entry.path), status))
    return entries


def waiting_files(folder: InboxFolder) -> list[Path]:
    """The regular files dropped into the folder and not yet claimed, oldest first."""
    regular = [
        (path, status) for path, status in _dropped_entries(folder) if stat.S_ISREG(status.st_mode)
    ]
    regular.sort(key=lambda entry: (entry[1].st_mtime_ns, entry[1].st_size, entry[0].name))
    return [path for path, _ in regular]


def refused_files(folder: InboxFolder) -> dict[Path, str]:
    """The links, pipes and other special files dropped into the folder, each with why it is
    refused. (Folders dropped in are left alone: they are not files.)"""
    return {
        path: _refusal(status.st_mode)
        for path, status in _dropped_entries(folder)
        if not stat.S_ISREG(status.st_mode) and not stat.S_ISDIR(status.st_mode)
    }


def _stat_or_none(path: Path) -> tuple[int, int] | None:
    """(modification time in ns, size) of the file itself (a link is not followed), or None when
    it is gone or cannot be looked at any more."""
    try:
        status = os.lstat(path)
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def settled_files(
    paths: Sequence[Path], *, quiet_seconds: float, clock: FileClock | None = None
) -> list[Path]:
    """The files whose size and modification time stay the same over `quiet_seconds`.

    Looks at every file twice, `quiet_seconds` apart (one sleep for all of them), and keeps those
    unchanged and last modified at least `quiet_seconds` ago: a file still being copied grows or
    is touched in between. A file modified in the future (a network share whose clock is ahead)
    would never be that old: it is kept once it is unchanged over `quiet_seconds`, with a
    warning. Files that vanish meanwhile (another watcher claimed them) are left out.
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
        modified_ns = after[0]
        if modified_ns > now_ns:
            log.warning(
                "%s/%s: modified %.0f s in the future (is the clock of its share ahead?); "
                "taken, since it did not change over %g s",
                path.parent.name,
                path.name,
                (modified_ns - now_ns) / 1e9,
                quiet_seconds,
            )
            settled.append(path)
        elif now_ns - modified_ns >= quiet_seconds * 1e9:
            settled.append(path)
    return settled


def _short_name(name: str) -> str:
    """`name`, or, past `KEPT_NAME_BYTES`, 16 hex digits of its SHA-256 and its suffix: the
    names made from it grow (a stamp, `.error.txt`, `.txt`) and must stay within 255 bytes."""
    encoded = os.fsencode(name)
    if len(encoded) <= KEPT_NAME_BYTES:
        return name
    suffix = Path(name).suffix
    if len(os.fsencode(suffix)) > _KEPT_SUFFIX_BYTES:
        suffix = ""
    return hashlib.sha256(encoded).hexdigest()[:16] + suffix


def _claimed_name(name: str, claimed_at: datetime) -> str:
    """A name no other claim has: dated, unique, and short, whatever the length of `name`."""
    return f"{claimed_at:{_CLAIM_STAMP}}-{uuid4().hex[:8]}-{_short_name(name)}"


def claim_file(
    folder: InboxFolder, path: Path, *, now: datetime | None = None
) -> ClaimedFile | None:
    """Take `path` by renaming it into `processing/`; None if another watcher took it first.

    A link is renamed, not followed: claiming never touches what it points to.
    """
    claimed_at = now or datetime.now(UTC)
    target = _working_folder(folder, PROCESSING) / _claimed_name(path.name, claimed_at)
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
    return _move(claimed, ARCHIVE)


def fail_file(claimed: ClaimedFile, reason: str) -> Path:
    """Move a file that could not be imported into `failed/`, beside an error file saying why.

    The reason is written first: a crash in between leaves the file claimed (it is tried again
    once the claim is stale), never a failed file without its reason. It names the file as it was
    dropped, and anything in it that looks like a secret is masked.
    """
    error_file = _working_folder(claimed.folder, FAILED) / (claimed.path.name + ERROR_SUFFIX)
    _write_text_not_following(
        error_file,
        f"{claimed.original_name} could not be imported into campaign {claimed.folder.campaign}.\n"
        f"Claimed at {claimed.claimed_at:%Y-%m-%d %H:%M:%S} UTC.\n\n"
        f"{claimed.in_users_words(reason).rstrip()}\n\n"
        "Fix the file and drop it into the inbox again.\n",
    )
    return _move(claimed, FAILED)


def _write_text_not_following(path: Path, text: str, *, only_new: bool = False) -> None:
    """Write `path`, refusing (ELOOP) a link planted under its name rather than writing through;
    `only_new`: FileExistsError when `path` exists (of two writers, one writes it)."""
    replace_or_not = os.O_EXCL if only_new else os.O_TRUNC
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | replace_or_not | _NO_FOLLOW, 0o644)
    with open(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


@dataclass(frozen=True)
class Receipt:
    """A receipt written beside a dropped file: `file` as dropped (`shop/a.csv`), `path` where
    the receipt is, `text` what it says."""

    file: str
    path: Path
    text: str


def _write_receipt(
    folder: InboxFolder, dropped_name: str, text: str, *, only_new: bool = False
) -> Receipt | None:
    """Write `receipts/<dropped name>.txt` (shortened as claims are); None when it could not be
    written (logged: the file's import stands without it) or, `only_new`, was there already."""
    dropped = f"{folder.campaign}/{dropped_name}"
    path = folder.receipts / f"{_short_name(dropped_name)}.txt"

    def write() -> Receipt | None:
        _working_folder(folder, RECEIPTS)
        try:
            _write_text_not_following(path, text, only_new=only_new)
        except FileExistsError:
            return None
        return Receipt(dropped, path, text)

    return _or_warning(f"the receipt of {dropped}", write)


def _move(claimed: ClaimedFile, working_folder: str) -> Path:
    target = _working_folder(claimed.folder, working_folder) / claimed.path.name
    os.rename(claimed.path, target)
    return target


def _or_warning(
    what: str,
    action: Callable[_Params, _Result],
    /,
    *args: _Params.args,
    **kwargs: _Params.kwargs,
) -> _Result | None:
    """`action(...)`, or None when it raised an `OSError`: logged, naming `what`, and left for
    the next look, so that one file (or one campaign folder) never stops the others."""
    try:
        return action(*args, **kwargs)
    except OSError as error:
        log.warning("%s skipped until the next look: %s", what, describe_os_error(error))
        return None


def release_stale_claims(
    folder: InboxFolder, *, older_than: timedelta, now: datetime | None = None
) -> list[Path]:
    """Put files claimed longer than `older_than` ago back into the inbox, under their own name.

    A watcher that dies between claiming a file and archiving it leaves the file in
    `processing/`; released, it is imported by the next watcher, or found imported already (the
    store knows its content hash). Returns where the files went back to. A name longer than
    `KEPT_NAME_BYTES` goes back as it was claimed (a hash and its suffix): the claim kept no more.
    `InboxFolderError` when `processing/` is a link: what it points to is not the inbox's.
    """
    processing = _checked_working_folder(folder, PROCESSING)
    if not processing.is_dir():
        return []
    cutoff = (now or datetime.now(UTC)) - older_than
    released = []
    for path in sorted(processing.iterdir()):
        match = _CLAIMED_NAME.match(path.name)
        # Not only regular files: a link or pipe claimed by a watcher that died before refusing
        # it goes back too, to be refused by the next one.
        if match is None or (path.is_dir() and not path.is_symlink()):
            continue
        claimed_at = datetime.strptime(match["stamp"], _CLAIM_STAMP).replace(tzinfo=UTC)
        if claimed_at > cutoff:
            continue
        target = _or_warning(
            f"{folder.campaign}/{match['name']}", _put_back, path, folder, match["name"]
        )
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


_UNUSABLE_FILE_ERRORS = (CampaignFileError, ContactFileError, IngestConflict, NotARegularFile)
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
    receipt: Receipt | None = None


def _require_regular_file(path: Path) -> None:
    """Raise `NotARegularFile` unless `path` is a regular file.

    Looked at with `lstat` (a link is not followed, a pipe not opened), then once more through a
    descriptor opened without following a link or waiting on a pipe: a link or pipe swapped in
    since is refused too. The import opens the file by its path once more (the contacts reader
    takes a path); a swap in the moment between the two is left to the permissions on the inbox.
    """
    mode = os.lstat(path).st_mode
    if stat.S_ISREG(mode):
        try:
            descriptor = os.open(path, os.O_RDONLY | _NO_FOLLOW | _NO_BLOCK)
        except OSError as error:
            if error.errno != errno.ELOOP:
                raise
            mode = stat.S_IFLNK
        else:
            try:
                mode = os.fstat(descriptor).st_mode
            finally:
                os.close(descriptor)
    if not stat.S_ISREG(mode):
        raise NotARegularFile(f"{path.name}: {_refusal(mode)}")


def _failed(claimed: ClaimedFile, reason: str, receipt_text: str | None = None) -> FileOutcome:
    """Fail a claimed file with `reason` (in the user's words), with its receipt (saying it
    failed and why, unless `receipt_text` says more): the outcome saying so."""
    in_users_words = claimed.in_users_words(reason)
    moved = fail_file(claimed, in_users_words)
    receipt = _write_receipt(
        claimed.folder,
        claimed.original_name,
        receipt_text or _failed_receipt(claimed, in_users_words),
    )
    return FileOutcome(
        claimed.folder.campaign,
        claimed.original_name,
        moved,
        error=in_users_words,
        receipt=receipt,
    )


def _failed_receipt(claimed: ClaimedFile, reason_in_users_words: str) -> str:
    return failed_receipt(
        file=claimed.original_name, campaign=claimed.folder.campaign, reason=reason_in_users_words
    )


def _first_calls(engine: Engine, config: CampaignConfig) -> list[str]:
    """When the campaign's first calls go out (`campaigner.receipts`), read after the import."""
    try:
        with transaction(engine) as session:
            return read_first_calls(session=session, config=config, now=datetime.now(UTC))
    except DatabaseError as error:
        # The import is committed: a receipt without its first calls beats a file imported
        # twice, its task retried.
        return [
            f"When the first calls go out could not be read ({type(error).__name__}); "
            f"`campaigner status {config.name}` says it."
        ]


def _imported(
    claimed: ClaimedFile,
    moved_to: Path,
    summary: IngestSummary,
    first_calls: list[str],
    *,
    put_back: bool = False,
) -> FileOutcome:
    """The outcome of an imported file now at `moved_to` (`put_back` into the inbox), with its
    receipt; its summary.json names where the file is now, not its claim in `processing/`."""
    moved_summary = summary.model_copy(update={"file": str(moved_to)})
    _or_warning(f"the summary of {claimed.original_name}", write_summary_file, moved_summary)
    note = (
        "The file changed while it was read: the rows read are imported, and the file is back "
        "in the inbox for the rest."
        if put_back
        else None
    )
    text = import_receipt(
        file=claimed.original_name,
        summary=moved_summary,
        imported_at=claimed.claimed_at,
        first_calls=first_calls,
        note=note,
    )
    return FileOutcome(
        claimed.folder.campaign,
        claimed.original_name,
        moved_to,
        moved_summary,
        put_back=put_back,
        receipt=_write_receipt(claimed.folder, claimed.original_name, text),
    )


def process_claimed_file(
    *, engine: Engine, campaigns_dir: Path, claimed: ClaimedFile, out_dir: Path
) -> FileOutcome:
    """Import a claimed file into its folder's campaign, then archive it, or fail it with why;
    either way with its receipt beside it."""
    try:
        _require_regular_file(claimed.path)
        config = load_named_campaign(campaigns_dir, claimed.folder.campaign)
        summary = import_claimed_file(
            engine=engine, config=config, claimed=claimed, out_dir=out_dir
        )
    except _UNUSABLE_FILE_ERRORS as error:
        return _failed(
            claimed,
            str(error) or type(error).__name__,
            _no_such_campaign_receipt(claimed, campaigns_dir),
        )
    first_calls = _first_calls(engine, config)
    if changed_since_claim(claimed):
        # Still being written: what was read is imported; the whole file, once settled, is
        # imported again as a new file and adds only the contacts this import did not have.
        # Or gone: another watcher took the claim for stale and put it back (found imported).
        put_back = release_claim(claimed) or claimed.folder.root
        return _imported(claimed, put_back, summary, first_calls, put_back=True)
    return _imported(claimed, finish_file(claimed), summary, first_calls)


def _no_such_campaign_receipt(claimed: ClaimedFile, campaigns_dir: Path) -> str | None:
    """For a file in a folder no campaign file names: where to put it instead; else None."""
    campaign = claimed.folder.campaign
    if (campaigns_dir / f"{campaign}.yaml").exists():
        return None
    return misplaced_receipt(
        file=claimed.original_name,
        where=f"inbox/{campaign}/",
        campaigns=known_campaigns(campaigns_dir),
    )


def settle_failed_import(claimed: ClaimedFile, error: str, *, for_good: bool) -> str:
    """Move a file whose import raised `error`: into `failed/` when importing it again would fail
    the same way (`for_good`), else back into the inbox for the next look. Returns the line to
    log, naming the file as it was dropped.

    A file that cannot be moved either (a linked `failed/`, a full disk) stays claimed, to be put
    back once its claim is stale, and the line says so: the other files go on.
    """
    dropped = f"{claimed.folder.campaign}/{claimed.original_name}"
    try:
        if for_good:
            reason = claimed.in_users_words(f"the import failed: {error}")
            fail_file(claimed, reason)
            _write_receipt(claimed.folder, claimed.original_name, _failed_receipt(claimed, reason))
            return f"{dropped} moved to failed/: {reason}"
        release_claim(claimed)
    except OSError as move_error:
        return (
            f"{dropped} stays in processing/ until its claim is stale, its import failed "
            f"({claimed.in_users_words(error)}) and it could not be moved: "
            f"{describe_os_error(move_error)}"
        )
    return f"{dropped} put back into the inbox, its import failed: {claimed.in_users_words(error)}"


def refuse_file(folder: InboxFolder, path: Path, why: str) -> FileOutcome | None:
    """Claim a link or special file and move it to `failed/` beside `why`, never opening it (nor
    what a link points to); None if another watcher took it first.

    Moved rather than left in place: left, it would be refused again every minute, and the
    reason would be a log line instead of a file beside it.
    """
    claimed = claim_file(folder, path)
    if claimed is None:
        return None
    return _failed(claimed, f"{claimed.original_name}: {why}")


@dataclass(frozen=True)
class InboxLook:
    """What one look at the inbox took: the files claimed for import, and the links and special
    files refused (already in `failed/`)."""

    claims: list[ClaimedFile]
    refused: list[FileOutcome]


def take_files(
    inbox: Path,
    *,
    quiet_seconds: float,
    stale_after: timedelta,
    clock: FileClock | None = None,
) -> InboxLook:
    """Put stale claims back, refuse what is not a regular file, and claim every settled file,
    in every campaign folder.

    An `OSError` (a name the file system refuses, a folder that cannot be read, a working folder
    that is a link) is logged and skips that file, or that campaign's folder: never the others.
    """
    waiting: dict[Path, InboxFolder] = {}
    refused: list[FileOutcome] = []
    for folder in campaign_folders(inbox):
        looked = _or_warning(f"inbox/{folder.campaign}/", _look_into, folder, stale_after)
        if looked is not None:
            waiting.update(dict.fromkeys(looked[0], folder))
            refused += looked[1]
    claims = []
    for path in settled_files(list(waiting), quiet_seconds=quiet_seconds, clock=clock):
        claimed = _or_warning(f"{path.parent.name}/{path.name}", claim_file, waiting[path], path)
        if claimed is not None:
            claims.append(claimed)
    return InboxLook(claims=claims, refused=refused)


def _look_into(folder: InboxFolder, stale_after: timedelta) -> tuple[list[Path], list[FileOutcome]]:
    """One campaign's folder: stale claims put back, links and special files refused; its
    waiting files and the refusals."""
    check_working_folders(folder)
    release_stale_claims(folder, older_than=stale_after)
    refused = []
    for path, why in refused_files(folder).items():
        outcome = _or_warning(f"{folder.campaign}/{path.name}", refuse_file, folder, path, why)
        if outcome is not None:
            refused.append(outcome)
    return waiting_files(folder), refused


def advise_misplaced_files(inbox: Path, campaigns_dir: Path) -> list[Receipt]:
    """Write, once per name, a receipt beside each file dropped into the inbox itself (not into
    a campaign's folder) saying where to put it; returns the receipts written at this look.

    Written only where none is yet (created exclusively): the file stays where it was dropped,
    and telling it again every minute would bury the receipts of the files that were imported.
    """
    root = InboxFolder(inbox)
    entries = _or_warning("inbox/", _dropped_entries, root) or []
    campaigns = known_campaigns(campaigns_dir)
    receipts = []
    for path, status in entries:
        if stat.S_ISDIR(status.st_mode):
            continue  # a campaign's folder, or one to be failed file by file
        text = misplaced_receipt(file=path.name, where="inbox/", campaigns=campaigns)
        receipt = _write_receipt(root, path.name, text, only_new=True)
        if receipt is not None:
            receipts.append(receipt)
    return receipts
