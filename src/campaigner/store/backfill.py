"""Call attempts written in bulk, already finished: histories brought in from elsewhere, and the
stores that report benchmarks and tests build.

The dialer never uses this: its attempts go through `attempts.create` (committed before the call)
and `results.record_call_results`. Here every column is given, as `contacts.insert_columns`
takes contacts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session, SQLModel

from campaigner.store.bulk import bulk_insert_columns
from campaigner.store.contacts import INSERT_BATCH_SIZE
from campaigner.store.models import CallAttempt

__all__ = ["insert_attempt_columns"]

_REQUIRED = frozenset(
    {
        "campaign_id",
        "contact_id",
        "attempt_number",
        "idempotency_key",
        "agent_id",
        "from_number",
        "to_number",
        "state",
        "created_at",
    }
)


def insert_attempt_columns(
    *,
    session: Session,
    columns: Mapping[str, Sequence[Any]],
    batch_size: int = INSERT_BATCH_SIZE,
) -> int:
    """Insert finished attempts given column by column (`CallAttempt` field names, one value per
    attempt; fields left out are null, `finalized` is true). An attempt whose idempotency key
    is already stored is skipped (a second attempt under the same contact and attempt number is
    refused by the database). Returns the number inserted.
    """
    known = set(CallAttempt.model_fields) - {"id"}
    missing = sorted(_REQUIRED - columns.keys())
    unknown = sorted(columns.keys() - known)
    if missing or unknown:
        raise ValueError(f"attempt columns: missing {missing}, unknown {unknown}")
    return bulk_insert_columns(
        session,
        SQLModel.metadata.tables["call_attempt"],
        columns,
        constants={"finalized": True} if "finalized" not in columns else None,
        conflict=("idempotency_key",),
        batch_size=batch_size,
    )
