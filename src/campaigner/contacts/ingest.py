"""Importing a contacts file into a campaign: read, classify, check the store, store, report.

    with store.transaction(engine) as session:
        summary = ingest_contacts_file(session=session, config=config, path=path, out_dir=out_dir)

Every input row ends accepted (a contact) or rejected (a rejected row with a reason), and the
summary says how many of each: `rows_read == accepted + rejected_total`, checked on every import.
Blank rows are not input rows (see `campaigner.contacts.reading`); they are counted apart.

The import is all-or-nothing: nothing is written to the store before the file has been read and
every mapped column found, and the store's changes are one unit of work, committed once by the
caller's `store.transaction`. The rejected-rows file and the summary are written before, under
pending names, and take their own names only when that commit succeeds: an import that fails,
at the commit too, leaves neither (the caller reports why it failed). The
same bytes imported again into the same campaign (under any file name) change nothing and say so
(`already_ingested`).

Files written to `out_dir` (the CLI's default is `out/<campaign>/imports/`):

- `<file stem>-<sha8>.rejected.csv`: the rejected rows with their original columns, then
  `row_number`, `reason` and `detail`; cells are spreadsheet-safe (`campaigner.csvsafe`).
- `<file stem>-<sha8>.summary.json`: the `IngestSummary`.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, model_validator

from campaigner import store
from campaigner.campaign import CampaignConfig
from campaigner.contacts.cell_json import Cells, json_objects, string_column
from campaigner.contacts.classify import (
    MappedColumns,
    classify_rows,
    map_columns,
    open_rows,
    reject_listed_numbers,
)
from campaigner.contacts.reading import ContactTable, read_contact_table, read_file_bytes
from campaigner.contacts.reasons import RejectReason
from campaigner.contacts.variants import assign_variants
from campaigner.csvsafe import neutralise_cell, neutralise_frame
from campaigner.errors import CampaignerError
from campaigner.store import (
    Campaign,
    JSONText,
    Session,
    SourceFile,
    campaigns,
    imports,
    suppression,
)

__all__ = [
    "IngestConflict",
    "IngestSummary",
    "ingest_contacts_file",
    "rejected_rows_columns",
    "write_summary_file",
]

DUPLICATE_REASONS = (RejectReason.DUPLICATE_IN_FILE, RejectReason.DUPLICATE_IN_CAMPAIGN)
# Rows per chunk handed to the store, and per statement batch on SQLite: it bounds the memory of
# the cells, and one batch per chunk lets SQLite insert a chunk while the next is built (with
# several batches per chunk SQLite waited while each chunk was built; bench/README.md).
_STORE_CHUNK = 10_000
# Read the whole do-not-call list when it has at most 1/50 as many entries as numbers to check.
_DNC_READ_WHOLE_RATIO = 50
# Read all of a campaign's numbers when it has at most 5 times as many contacts as numbers to
# check: reading a number costs several times less than looking one up (figures in
# bench/README.md).
_CAMPAIGN_READ_WHOLE_RATIO = 5


class IngestConflict(CampaignerError):
    """Another import added some of the same numbers to the campaign at the same moment."""


class IngestSummary(BaseModel):
    """What one import did. `rejected` maps reason codes to counts (reasons with no rows left out).

    `duplicates` counts rows rejected as duplicate in the file or in the campaign, `suppressed`
    rows rejected as on the do-not-call list; both are included in `rejected`.
    """

    model_config = ConfigDict(frozen=True)

    campaign: str
    file: str
    sha256: str
    rows_read: int
    accepted: int
    rejected: dict[str, int]
    duplicates: int
    suppressed: int
    blank_rows: int
    rejected_file: str | None
    summary_file: str | None
    already_ingested: bool
    first_ingested_at: datetime | None = None
    """For a repeated import: when the same bytes were imported, and under which `file` name."""
    first_ingested_as: str | None = None

    @property
    def rejected_total(self) -> int:
        """All rejected rows, whatever the reason."""
        return sum(self.rejected.values())

    @model_validator(mode="after")
    def _every_row_is_accounted_for(self) -> IngestSummary:
        if self.rows_read != self.accepted + self.rejected_total:
            raise ValueError(
                f"rows_read {self.rows_read} != accepted {self.accepted} + "
                f"rejected {self.rejected_total}"
            )
        return self


def ingest_contacts_file(
    *,
    session: Session,
    config: CampaignConfig,
    path: Path,
    out_dir: Path,
    now: datetime | None = None,
) -> IngestSummary:
    """Import a contacts file into the campaign `config` describes, in the caller's unit of work.

    Raises `ContactFileError` (nothing written) when the file cannot be used, `IngestConflict`
    (nothing written) when a concurrent import raced this one.
    """
    data = read_file_bytes(path)
    sha256 = hashlib.sha256(data).hexdigest()
    stored = campaigns.get_by_name(session=session, name=config.name)
    previous = _previous_import(session, stored, sha256)
    if previous is not None:
        return _repeat_summary(config, path, sha256, previous)
    with _cyclic_gc_paused():
        table = read_contact_table(path, data)
        columns = map_columns(table, config.columns)
        outcomes = classify_rows(table, columns, config.numbers)
        # Everything that only reads comes before the first write: on SQLite that write takes
        # the store's write lock until the commit, and dialing runs on the same store wait for it.
        # An import racing this one between the checks and the inserts ends in IngestConflict.
        if stored is not None and stored.id is not None:
            _reject_campaign_numbers(session, config, stored.id, outcomes)
        _reject_suppressed_numbers(session, outcomes)
        table_cells = {header: string_column(table.rows[header]) for header in table.headers}
        variants = _variants(config, outcomes)
        campaign = campaigns.upsert(session=session, config=config, now=now)
        assert campaign.id is not None  # campaigns.upsert flushes
        source = imports.create_file(
            session=session, campaign_id=campaign.id, path=str(path), sha256=sha256, now=now
        )
        assert source.id is not None  # imports.create_file flushes
        stem = f"{path.stem}-{sha256[:8]}"
        rejected_file = out_dir / f"{stem}.rejected.csv"
        summary_file = out_dir / f"{stem}.summary.json"
        out_dir.mkdir(parents=True, exist_ok=True)
        files = _FilesOfTheCommit((rejected_file, summary_file))
        store.when_transaction_ends(session, committed=files.publish, abandoned=files.discard)
        # The file is written while the store inserts (SQLite works without the GIL); the
        # outcomes are final here and only read from now on.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rejected-file") as writer:
            written = writer.submit(
                _write_rejected_file, files.pending(rejected_file), table, outcomes
            )
            try:
                _store_rows(session, config, table_cells, columns, outcomes, variants, source, now)
            except BaseException:
                wait([written])  # before the rollback removes the file
                raise
            written.result()
        summary = _summary(config, path, sha256, table, outcomes, rejected_file, summary_file)
        imports.set_counts(
            session=session,
            source_file_id=source.id,
            rows_read=summary.rows_read,
            accepted=summary.accepted,
            rejected=summary.rejected_total,
            duplicates=summary.duplicates,
            suppressed=summary.suppressed,
        )
        files.pending(summary_file).write_text(
            summary.model_dump_json(indent=2) + "\n", encoding="utf-8"
        )
    return summary


@dataclass(frozen=True, slots=True)
class _FilesOfTheCommit:
    """An import's files, written under a pending name and given theirs only once the import
    commits; removed when it does not. The summary says which rows were accepted: a summary
    of an import the store then failed to commit would claim rows that are not there."""

    targets: tuple[Path, ...]

    @staticmethod
    def pending(target: Path) -> Path:
        """Where `target` is written until the commit."""
        return target.with_name(f".{target.name}.pending")

    def publish(self) -> None:
        for target in self.targets:
            self.pending(target).replace(target)

    def discard(self) -> None:
        for target in self.targets:
            self.pending(target).unlink(missing_ok=True)


def write_summary_file(summary: IngestSummary) -> None:
    """Write the summary to its `summary_file` (the inbox writes it again once the imported
    file has moved, so that it names where the file is)."""
    if summary.summary_file is not None:
        Path(summary.summary_file).write_text(
            summary.model_dump_json(indent=2) + "\n", encoding="utf-8"
        )


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the length of an import.

    An import builds millions of small containers without cycles (row dictionaries here, parameter
    tuples in the store); the collector would rescan them again and again as they pile up
    (a large share of the import's CPU time; figures in bench/README.md). Reference counting
    still frees them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _reject_campaign_numbers(
    session: Session, config: CampaignConfig, campaign_id: int, outcomes: pd.DataFrame
) -> None:
    """Reject open rows whose number is already a contact of the (stored) campaign."""
    candidates = outcomes["e164"].to_numpy()[open_rows(outcomes)].tolist()
    known = _campaign_numbers_among(session, campaign_id, candidates)
    reject_listed_numbers(
        outcomes,
        dict.fromkeys(known, f"already a contact of campaign {config.name}"),
        RejectReason.DUPLICATE_IN_CAMPAIGN,
    )


def _reject_suppressed_numbers(session: Session, outcomes: pd.DataFrame) -> None:
    """Reject open rows whose number is on the do-not-call list."""
    candidates = outcomes["e164"].to_numpy()[open_rows(outcomes)].tolist()
    on_dnc = _suppressed_among(session, candidates)
    reject_listed_numbers(
        outcomes,
        {number: f"on the do-not-call list: {reason}" for number, reason in on_dnc.items()},
        RejectReason.SUPPRESSED,
    )


def _variants(config: CampaignConfig, outcomes: pd.DataFrame) -> npt.NDArray[np.object_]:
    """The A/B variant of each accepted row, in row order."""
    return assign_variants(
        config.name,
        outcomes["e164"].to_numpy()[open_rows(outcomes)].tolist(),
        [(variant.name, variant.weight) for variant in config.agent_variants()],
    )


def _store_rows(
    session: Session,
    config: CampaignConfig,
    table_cells: dict[str, Cells],
    columns: MappedColumns,
    outcomes: pd.DataFrame,
    variants: npt.NDArray[np.object_],
    source: SourceFile,
    now: datetime | None,
) -> None:
    """Insert the accepted rows as contacts (with their variant) and the rejected rows."""
    assert source.id is not None
    accepted = open_rows(outcomes)
    chunks = _contact_columns(
        table_cells, columns, outcomes, variants, source.campaign_id, source.id
    )
    inserted = store.contacts.insert_column_chunks(
        session=session, chunks=chunks, now=now, batch_size=_STORE_CHUNK
    )
    if inserted != int(accepted.sum()):
        raise IngestConflict(
            f"{Path(source.path).name}: another import added some of these numbers to campaign "
            f"{config.name!r} at the same time; nothing was imported, run the import again"
        )
    for rejected in _rejected_rows(table_cells, outcomes, source.campaign_id, source.id):
        imports.insert_rejected_columns(session=session, columns=rejected)


def _campaign_numbers_among(session: Session, campaign_id: int, numbers: Sequence[str]) -> set[str]:
    """Which `numbers` are already contacts of the campaign (no lookup for a new campaign).

    A campaign with at most `_CAMPAIGN_READ_WHOLE_RATIO` times as many contacts as there are
    numbers to check has its numbers read whole and matched in memory; a larger one is looked up
    number by number (in chunks) by the store.
    """
    contacts = store.contacts.count(session=session, campaign_id=campaign_id)
    if not contacts:
        return set()
    if contacts <= len(numbers) * _CAMPAIGN_READ_WHOLE_RATIO:
        return store.contacts.numbers(session=session, campaign_id=campaign_id).intersection(
            numbers
        )
    return store.contacts.existing_numbers(
        session=session, campaign_id=campaign_id, numbers=numbers
    )


def _suppressed_among(session: Session, numbers: Sequence[str]) -> dict[str, str]:
    """Which `numbers` are on the do-not-call list, with the reason of each.

    A list much shorter than the file is read whole and matched in memory; a long one is looked
    up number by number (in chunks) by the store.
    """
    whole_list_limit = len(numbers) // _DNC_READ_WHOLE_RATIO
    entries = suppression.entries(session=session, limit=whole_list_limit + 1)
    if len(entries) <= whole_list_limit:
        wanted = set(numbers)
        return {entry.phone_e164: entry.reason for entry in entries if entry.phone_e164 in wanted}
    return suppression.reasons(session=session, numbers=numbers)


def rejected_rows_columns(table: ContactTable) -> list[str]:
    """The header of a rejected-rows file: the input's columns, then row_number, reason, detail."""
    return [*table.headers, "row_number", "reason", "detail"]


def _previous_import(session: Session, stored: Campaign | None, sha256: str) -> SourceFile | None:
    if stored is None or stored.id is None:
        return None
    return imports.find_file(session=session, campaign_id=stored.id, sha256=sha256)


def _repeat_summary(
    config: CampaignConfig, path: Path, sha256: str, previous: SourceFile
) -> IngestSummary:
    return IngestSummary(
        campaign=config.name,
        file=str(path),
        sha256=sha256,
        rows_read=0,
        accepted=0,
        rejected={},
        duplicates=0,
        suppressed=0,
        blank_rows=0,
        rejected_file=None,
        summary_file=None,
        already_ingested=True,
        first_ingested_at=previous.created_at,
        first_ingested_as=previous.path,
    )


def _contact_columns(
    table_cells: dict[str, Cells],
    columns: MappedColumns,
    outcomes: pd.DataFrame,
    variants: npt.NDArray[np.object_],
    campaign_id: int,
    source_file_id: int,
) -> Iterator[dict[str, Sequence[Any]]]:
    """The accepted rows as the store's contact columns, in chunks; JSON columns as text."""
    accepted = np.flatnonzero(open_rows(outcomes))
    kept = outcomes.iloc[accepted]
    for start in range(0, len(accepted), _STORE_CHUNK):
        chunk = slice(start, start + _STORE_CHUNK)
        positions = pa.array(accepted[chunk])
        cells = {header: column.take(positions) for header, column in table_cells.items()}
        part = kept.iloc[chunk]
        count = len(part)
        yield {
            "campaign_id": [campaign_id] * count,
            "source_file_id": [source_file_id] * count,
            "row_number": part["row_number"].tolist(),
            "phone_e164": part["e164"].tolist(),
            "country": part["region"].tolist(),
            "timezones": part["timezones"].tolist(),
            "number_type": part["number_type"].tolist(),
            "phone_column": part["phone_column"].tolist(),
            "external_id": (
                [cell or None for cell in cells[columns.external_id].to_pylist()]
                if columns.external_id
                else [None] * count
            ),
            "dynamic_variables": _cell_objects(cells, columns.dynamic_variables, count),
            "extra_metadata": _cell_objects(cells, columns.metadata, count),
            "original": _cell_objects(cells, {header: header for header in cells}, count),
            "variant": variants[chunk].tolist(),
        }


def _cell_objects(cells: dict[str, Cells], names: dict[str, str], count: int) -> JSONText:
    """Per row, {name: the cell under its mapped header}; an empty cell stays "" (not null)."""
    return json_objects([(name, cells[header]) for name, header in names.items()], count)


def _rejected_rows(
    table_cells: dict[str, Cells], outcomes: pd.DataFrame, campaign_id: int, source_file_id: int
) -> Iterator[dict[str, Sequence[Any]]]:
    """The rejected rows as the store's rejected-row columns, in chunks; `raw` as JSON text."""
    rejected = np.flatnonzero(~open_rows(outcomes))
    kept = outcomes.iloc[rejected]
    for start in range(0, len(rejected), _STORE_CHUNK):
        chunk = slice(start, start + _STORE_CHUNK)
        positions = pa.array(rejected[chunk])
        part = kept.iloc[chunk]
        count = len(part)
        yield {
            "campaign_id": [campaign_id] * count,
            "source_file_id": [source_file_id] * count,
            "row_number": part["row_number"].tolist(),
            "reason": [str(reason) for reason in part["reason"].tolist()],
            "detail": part["detail"].tolist(),
            "raw": json_objects(
                [(header, cells.take(positions)) for header, cells in table_cells.items()], count
            ),
        }


def _summary(
    config: CampaignConfig,
    path: Path,
    sha256: str,
    table: ContactTable,
    outcomes: pd.DataFrame,
    rejected_file: Path,
    summary_file: Path,
) -> IngestSummary:
    counts = outcomes["reason"].value_counts()
    rejected = {str(reason): int(counts[reason]) for reason in RejectReason if reason in counts}
    return IngestSummary(
        campaign=config.name,
        file=str(path),
        sha256=sha256,
        rows_read=len(outcomes),
        accepted=int(open_rows(outcomes).sum()),
        rejected=rejected,
        duplicates=sum(rejected.get(reason, 0) for reason in DUPLICATE_REASONS),
        suppressed=rejected.get(RejectReason.SUPPRESSED, 0),
        blank_rows=table.blank_rows,
        rejected_file=str(rejected_file),
        summary_file=str(summary_file),
        already_ingested=False,
    )


def _write_rejected_file(target: Path, table: ContactTable, outcomes: pd.DataFrame) -> None:
    """The rejected rows as spreadsheet-safe CSV (UTF-8 with a BOM, so Excel reads accents).

    Neutralised column by column and written by pandas: cell by cell in Python it held the GIL
    the store's writer thread needs for longer (figures in bench/README.md).
    """
    positions = np.flatnonzero(~open_rows(outcomes))
    rejected = outcomes.iloc[positions]
    # Columns by position: an input header may be named like one of ours.
    columns: list[pd.Series] = [
        *(table.rows[header].iloc[positions] for header in table.headers),
        rejected["row_number"],
        rejected["reason"].astype("str"),
        rejected["detail"].astype("str"),
    ]
    frame = pd.DataFrame(
        {index: column.reset_index(drop=True) for index, column in enumerate(columns)}
    )
    neutralise_frame(frame).to_csv(
        target,
        index=False,
        header=[neutralise_cell(name) for name in rejected_rows_columns(table)],
        encoding="utf-8-sig",
        lineterminator="\r\n",
    )
