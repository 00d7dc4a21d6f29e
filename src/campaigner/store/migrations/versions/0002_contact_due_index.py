"""Claim contacts through a partial index in claim order; every contact has a due time.

The claim query sorted every pending contact of a campaign on each claim, which grows with the
campaign (bench/store_throughput.py measures claims). An index on (campaign_id, next_attempt_at,
id) over the claimable statuses lets it read the first `limit` rows in order, and a NOT NULL due
time (a contact is due from its import) keeps the condition a plain range the planner uses even
before ANALYZE.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLAIMABLE = sa.text("status IN ('pending', 'waiting_retry')")


def upgrade() -> None:
    op.drop_index("ix_contact_claim", table_name="contact")
    op.execute("UPDATE contact SET next_attempt_at = created_at WHERE next_attempt_at IS NULL")
    # On SQLite this rebuilds the table, so the partial index is created afterwards.
    with op.batch_alter_table("contact") as batch:
        batch.alter_column(
            "next_attempt_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
    op.create_index(
        "ix_contact_due",
        "contact",
        ["campaign_id", "next_attempt_at", "id"],
        postgresql_where=_CLAIMABLE,
        sqlite_where=_CLAIMABLE,
    )


def downgrade() -> None:
    op.drop_index("ix_contact_due", table_name="contact")
    with op.batch_alter_table("contact") as batch:
        batch.alter_column(
            "next_attempt_at", existing_type=sa.DateTime(timezone=True), nullable=True
        )
    op.create_index("ix_contact_claim", "contact", ["campaign_id", "status", "next_attempt_at"])
