"""Read-only queries for reports: a campaign's rows in bulk, as pandas frames in chunks.

Reports read whole campaigns (100,000 contacts and more), so these skip the ORM: each is one Core
SELECT read with `pd.read_sql` in chunks of `READ_CHUNK_ROWS` rows, so the driver never holds a
whole result set beside the frames being built. Timestamps come back timezone-aware UTC and JSON
columns as Python objects (the columns' own types convert them).

    with engine.connect() as connection:
        contacts = pd.concat(contact_frames(connection=connection, campaign_id=1))
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import Selectable
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
]

READ_CHUNK_ROWS = 20_000
"""Rows per chunk read from the database."""

CONTACT_COLUMNS = (
    "contact_id",
    "source_file",
    "row_number",
    "phone_e164",
    "country",
    "number_type",
    "timezone_key",
    "external_id",
    "variant",
    "status",
    "final_outcome",
    "attempts_made",
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


def contact_frames(
    *, connection: Connection, campaign_id: int, chunk_rows: int = READ_CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The campaign's contacts in import order, with their file's path and whether their number
    is on the do-not-call list now (`on_dnc_list`)."""
    on_dnc_list = sa.exists().where(col(Suppression.phone_e164) == col(Contact.phone_e164))
    statement: Selectable = (
        sa.select(
            col(Contact.id).label("contact_id"),
            col(SourceFile.path).label("source_file"),
            col(Contact.row_number),
            col(Contact.phone_e164),
            col(Contact.country),
            col(Contact.number_type),
            col(Contact.timezone_key),
            col(Contact.external_id),
            col(Contact.variant),
            col(Contact.status),
            col(Contact.final_outcome),
            col(Contact.attempts_made),
            col(Contact.original),
            on_dnc_list.label("on_dnc_list"),
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
            col(CallAttempt.id).label("attempt_id"),
            *(getattr(CallAttempt, name) for name in ATTEMPT_COLUMNS[1:]),
        )
        .where(col(CallAttempt.campaign_id) == campaign_id)
        .order_by(col(CallAttempt.contact_id), col(CallAttempt.attempt_number))
    )
    return _frames(connection, statement, ATTEMPT_COLUMNS, chunk_rows)


def rejected_frames(
    *, connection: Connection, campaign_id: int, chunk_rows: int = READ_CHUNK_ROWS
) -> Iterator[pd.DataFrame]:
    """The campaign's rejected input rows with their reason, by file and row number."""
    statement: Selectable = (
        sa.select(
            col(SourceFile.path).label("source_file"),
            col(RejectedRow.row_number),
            col(RejectedRow.reason),
            col(RejectedRow.detail),
            col(RejectedRow.raw),
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
        yield chunk
    if empty:
        yield pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
