"""Read-only queries for reports: a campaign's rows in bulk, as pandas frames in chunks.

Reports read whole campaigns (100,000 contacts and more), so these skip the ORM: each is one Core
SELECT read with `pd.read_sql` in chunks of `READ_CHUNK_ROWS` rows, so the driver never holds a
whole result set beside the frames being built. Values are converted column by column, not one by
one: timestamps come back timezone-aware UTC, flags as nullable booleans, JSON columns as Python
objects (decoded with orjson), statuses and outcomes as plain strings.

    with snapshot(engine) as connection:
        contacts = pd.concat(contact_frames(connection=connection, campaign_id=1))
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import Selectable
from sqlalchemy.types import NullType
from sqlmodel import col

from campaigner.store.models import CallAttempt, Contact, RejectedRow, SourceFile, Suppression

__all__ = [
    "ATTEMPT_COLUMNS",
    "CONTACT_COLUMNS",
    "READ_CHUNK_ROWS",
    "REJECTED_COLUMNS",
    "attempt_frames",
    "contact_frames",
    "input_row_count",
    "rejected_frames",
    "snapshot",
    "transcript_frames",
]

_JSON_COLUMNS = ("original", "custom_analysis", "raw")
_TIME_COLUMNS = ("created_at", "sent_at", "start_timestamp", "end_timestamp", "next_attempt_at")
_BOOLEAN_COLUMNS = ("on_dnc_list", "call_successful", "in_voicemail")

READ_CHUNK_ROWS = 20_000
"""Rows per chunk read from the database."""

CONTACT_COLUMNS = (
    "contact_id",
    "source_file",
    "row_number",
    "phone_e164",
    "country",
    "number_type",
    "phone_column",
    "timezone_key",
    "external_id",
    "variant",
    "status",
    "final_outcome",
    "attempts_made",
    "next_attempt_at",
    "original",
    "on_dnc_list",
)
"""The columns of `contact_frames`, in order."""

ATTEMPT_COLUMNS = (
    "attempt_id",
    "contact_id",
    "attempt_number",
    "variant",
    "agent_id",
    "agent_version",
    "from_number",
    "to_number",
    "retell_call_id",
    "state",
    "outcome_class",
    "disconnection_reason",
    "error_detail",
    "created_at",
    "sent_at",
    "start_timestamp",
    "end_timestamp",
    "duration_ms",
    "cost_cents",
    "latency_e2e_p50_ms",
    "latency_e2e_p90_ms",
    "call_successful",
    "user_sentiment",
    "in_voicemail",
    "call_summary",
    "custom_analysis",
    "recording_url",
    "public_log_url",
)
"""The columns of `attempt_frames`, in order."""

REJECTED_COLUMNS = ("source_file", "row_number", "reason", "detail", "raw")
"""The columns of `rejected_frames`, in order."""


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection whose reads all see the store as it was at the first one, so a report's
    contacts, attempts and rejected rows agree while an import or a dialer commits beside it.

    PostgreSQL: a REPEATABLE READ transaction. SQLite (WAL): an explicit BEGIN, because the
    driver itself only begins a transaction before a write.
    """
    if engine.dialect.name == "postgresql":
        with (
            engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection,
            connection.begin(),
        ):
            yield connection
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("BEGIN")
        try:
            yield connection
        finally:
            connection.rollback()


def contact_frames(
    *, connection: Connection, campaign_id: int, chunk_rows: int = READ_CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The campaign's contacts in import order, with their file's path and whether their number
    is on the do-not-call list now (`on_dnc_list`)."""
    on_dnc_list = sa.exists().where(col(Suppression.phone_e164) == col(Contact.phone_e164))
    statement: Selectable = (
        sa.select(
            _raw(Contact.id, "contact_id"),
            _raw(SourceFile.path, "source_file"),
            *(_raw(getattr(Contact, name)) for name in CONTACT_COLUMNS[2:-1]),
            _raw(on_dnc_list, "on_dnc_list"),
        )
        .join(SourceFile, col(SourceFile.id) == col(Contact.source_file_id))
        .where(col(Contact.campaign_id) == campaign_id)
        .order_by(col(Contact.id))
    )
    return _frames(connection, statement, CONTACT_COLUMNS, chunk_rows)


def attempt_frames(
    *, connection: Connection, campaign_id: int, chunk_rows: int = READ_CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The campaign's call attempts, by contact and attempt number (transcripts left out)."""
    statement: Selectable = (
        sa.select(
            _raw(CallAttempt.id, "attempt_id"),
            *(_raw(getattr(CallAttempt, name)) for name in ATTEMPT_COLUMNS[1:]),
        )
        .where(col(CallAttempt.campaign_id) == campaign_id)
        .order_by(col(CallAttempt.contact_id), col(CallAttempt.attempt_number))
    )
    return _frames(connection, statement, ATTEMPT_COLUMNS, chunk_rows)


def transcript_frames(
    *, connection: Connection, campaign_id: int, chunk_rows: int = READ_CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The transcripts the campaign fetched (`fetch_transcripts: true`), one per attempt that has
    one, by attempt id; read apart from the attempts, as only a report that exports them needs
    their text."""
    statement: Selectable = (
        sa.select(_raw(CallAttempt.id, "attempt_id"), _raw(CallAttempt.transcript))
        .where(
            col(CallAttempt.campaign_id) == campaign_id,
            col(CallAttempt.transcript).is_not(None),
        )
        .order_by(col(CallAttempt.id))
    )
    return _frames(connection, statement, ("attempt_id", "transcript"), chunk_rows)


def rejected_frames(
    *, connection: Connection, campaign_id: int, chunk_rows: int = READ_CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The campaign's rejected input rows with their reason, by file and row number."""
    statement: Selectable = (
        sa.select(
            _raw(SourceFile.path, "source_file"),
            *(_raw(getattr(RejectedRow, name)) for name in REJECTED_COLUMNS[1:]),
        )
        .join(SourceFile, col(SourceFile.id) == col(RejectedRow.source_file_id))
        .where(col(RejectedRow.campaign_id) == campaign_id)
        .order_by(col(RejectedRow.source_file_id), col(RejectedRow.row_number))
    )
    return _frames(connection, statement, REJECTED_COLUMNS, chunk_rows)


def input_row_count(*, connection: Connection, campaign_id: int) -> int:
    """How many input rows the campaign's files had (each one a contact or a rejected row)."""
    total = connection.execute(
        sa.select(sa.func.coalesce(sa.func.sum(col(SourceFile.rows_read)), 0)).where(
            col(SourceFile.campaign_id) == campaign_id
        )
    ).scalar_one()
    return int(total)


def _raw(column: Any, name: str | None = None) -> sa.Label[Any]:
    """A selected column as the driver returns it, without SQLAlchemy's per-value conversion
    (a third of a large campaign's read: bench/report_throughput.py); `_frames` converts
    whole columns instead. JSON is read as text (a CAST, so that psycopg does not decode it)."""
    name = name or column.key
    if name in _JSON_COLUMNS:
        column = sa.cast(column, sa.Text)
    return sa.type_coerce(column, NullType()).label(name)


def _frames(
    connection: Connection,
    statement: Selectable,
    columns: tuple[str, ...],
    chunk_rows: int,
) -> Iterator[pd.DataFrame]:
    chunks = pd.read_sql(statement, connection, chunksize=chunk_rows, coerce_float=False)
    empty = True
    for chunk in chunks:
        empty = False
        for name in columns:
            if name in _JSON_COLUMNS:
                chunk[name] = [None if text is None else orjson.loads(text) for text in chunk[name]]
            elif name in _TIME_COLUMNS:
                chunk[name] = pd.to_datetime(chunk[name], utc=True, format="ISO8601")
            elif name in _BOOLEAN_COLUMNS:
                chunk[name] = chunk[name].astype("boolean")
        yield chunk
    if empty:
        yield pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
