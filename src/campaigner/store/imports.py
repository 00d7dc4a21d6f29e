"""Imports: the source files read into a campaign, with their counts and rejected rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from campaigner.store.bulk import bulk_insert_columns
from campaigner.store.contacts import INSERT_BATCH_SIZE
from campaigner.store.models import RejectedRow, SourceFile
from campaigner.store.types import utcnow

__all__ = ["create_file", "find_file", "insert_rejected", "insert_rejected_columns", "set_counts"]

_REJECTED_ROW: sa.Table = RejectedRow.__table__  # type: ignore[attr-defined]


def find_file(*, session: Session, campaign_id: int, sha256: str) -> SourceFile | None:
    """The import of a file with these bytes into this campaign, if there was one."""
    return session.exec(
        select(SourceFile).where(SourceFile.campaign_id == campaign_id, SourceFile.sha256 == sha256)
    ).first()


def create_file(
    *, session: Session, campaign_id: int, path: str, sha256: str, now: datetime | None = None
) -> SourceFile:
    """Record a file being imported (counts come later); flushed, so its id is known."""
    source = SourceFile(
        campaign_id=campaign_id, path=path, sha256=sha256, created_at=now or utcnow()
    )
    session.add(source)
    session.flush()
    return source


def set_counts(
    *,
    session: Session,
    source_file_id: int,
    rows_read: int,
    accepted: int,
    rejected: int,
    duplicates: int,
    suppressed: int,
) -> None:
    """Store how a file's rows were accounted for."""
    session.exec(
        sa.update(SourceFile)
        .where(col(SourceFile.id) == source_file_id)
        .values(
            rows_read=rows_read,
            accepted=accepted,
            rejected=rejected,
            duplicates=duplicates,
            suppressed=suppressed,
        )
    )


_REJECTED_COLUMNS = ("campaign_id", "source_file_id", "row_number", "reason", "detail", "raw")


def insert_rejected(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rejected input rows (campaign_id, source_file_id, row_number, reason, detail, raw).

    A row already recorded for the same file and row number is skipped. Returns the number
    inserted.
    """
    for row in rows:
        if row.keys() != set(_REJECTED_COLUMNS):
            expected = ", ".join(sorted(_REJECTED_COLUMNS))
            raise ValueError(f"rejected row {row.get('row_number')}: expected keys {expected}")
    return insert_rejected_columns(
        session=session, columns={name: [row[name] for row in rows] for name in _REJECTED_COLUMNS}
    )


def insert_rejected_columns(*, session: Session, columns: Mapping[str, Sequence[Any]]) -> int:
    """`insert_rejected` given column by column; `raw` may be `JSONText` (encoded objects)."""
    if columns.keys() != set(_REJECTED_COLUMNS):
        expected = ", ".join(sorted(_REJECTED_COLUMNS))
        raise ValueError(f"rejected row columns: expected {expected}, got {sorted(columns)}")
    return bulk_insert_columns(
        session,
        _REJECTED_ROW,
        columns,
        conflict=("source_file_id", "row_number"),
        batch_size=INSERT_BATCH_SIZE,
    )
