"""Exactly once with runs that overlap, die, pause or disagree about the time.

- `call_attempt.owner`: the run that may send or reconcile an attempt. Another run takes an
  attempt over only once its owner's lease is gone, and a send needs the row to still name the
  sending run, so a run that lost its lease (paused, or its clock wrong) can no longer send.
- `call_attempt.key_first_sent_at`: Retell's time when the create was first handed over; a
  resend with the same idempotency key is only safe within Retell's hour from then.
- `call_attempt.duplicate_of`: a call found for an attempt that already had another one is kept
  on a row of its own, flagged, instead of being dropped; the one-row-per-attempt-number rule
  becomes a unique index that leaves such rows out.
- `run_lease.beat`: liveness judged by a counter that only grows, not by comparing clocks.
- A trigger makes an attempt's call id, once set, impossible to change: one attempt, one call.

Attempts without a call written before this revision may have been sent without a claim: they
all become `ambiguous`, with their creation time as `key_first_sent_at` (the earliest their
create can have been sent), so they are reconciled and never withdrawn.

On SQLite, a later migration that rebuilds `call_attempt` (batch mode) drops the trigger with
the old table and must create it again.

Revision ID: 0006_attempt_owner
Revises: 0005_count_indexes
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_attempt_owner"
down_revision: str | Sequence[str] | None = "0005_count_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MESSAGE = "an attempt maps to one Retell call: its call id cannot change once set"

_SQLITE_TRIGGER = f"""
CREATE TRIGGER call_attempt_call_id_once
BEFORE UPDATE OF retell_call_id ON call_attempt
WHEN OLD.retell_call_id IS NOT NULL
    AND (NEW.retell_call_id IS NULL OR NEW.retell_call_id != OLD.retell_call_id)
BEGIN
    SELECT RAISE(ABORT, '{_MESSAGE}');
END
"""

_POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION call_attempt_call_id_once() RETURNS trigger AS $$
BEGIN
    IF OLD.retell_call_id IS NOT NULL
        AND NEW.retell_call_id IS DISTINCT FROM OLD.retell_call_id THEN
        RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""

_POSTGRESQL_TRIGGER = """
CREATE TRIGGER call_attempt_call_id_once
BEFORE UPDATE OF retell_call_id ON call_attempt
FOR EACH ROW EXECUTE FUNCTION call_attempt_call_id_once()
"""


def upgrade() -> None:
    with op.batch_alter_table("call_attempt") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("key_first_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_call_attempt_duplicate_of_call_attempt"),
            "call_attempt",
            ["duplicate_of"],
            ["id"],
        )
        batch.drop_constraint("uq_call_attempt_contact_id_attempt_number", type_="unique")
    op.create_index(
        "uq_call_attempt_attempt_number_once",
        "call_attempt",
        ["contact_id", "attempt_number"],
        unique=True,
        postgresql_where=sa.text("duplicate_of IS NULL"),
        sqlite_where=sa.text("duplicate_of IS NULL"),
    )
    with op.batch_alter_table("run_lease") as batch:
        batch.add_column(sa.Column("beat", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("run_lease") as batch:
        batch.alter_column("beat", server_default=None)
    # Rows written before this revision may have had their create sent without a claim: each
    # one without a call is treated as in doubt (reconciled, never withdrawn).
    op.execute(
        "UPDATE call_attempt SET state = 'ambiguous', key_first_sent_at = created_at "
        "WHERE state IN ('pending_send', 'ambiguous') AND retell_call_id IS NULL "
        "AND batch_id IS NULL"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRESQL_FUNCTION)
        op.execute(_POSTGRESQL_TRIGGER)
    else:
        op.execute(_SQLITE_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS call_attempt_call_id_once ON call_attempt")
        op.execute("DROP FUNCTION IF EXISTS call_attempt_call_id_once()")
    else:
        op.execute("DROP TRIGGER IF EXISTS call_attempt_call_id_once")
    with op.batch_alter_table("run_lease") as batch:
        batch.drop_column("beat")
    op.drop_index("uq_call_attempt_attempt_number_once", table_name="call_attempt")
    with op.batch_alter_table("call_attempt") as batch:
        batch.create_unique_constraint(
            "uq_call_attempt_contact_id_attempt_number", ["contact_id", "attempt_number"]
        )
        batch.drop_constraint(op.f("fk_call_attempt_duplicate_of_call_attempt"), type_="foreignkey")
        batch.drop_column("duplicate_of")
        batch.drop_column("key_first_sent_at")
        batch.drop_column("owner")
