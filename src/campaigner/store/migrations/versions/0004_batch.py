"""Batch mode: keep the call_time_window each batch was sent with, and find a batch's attempts fast.

The window (what Retell will honour, holidays of the week already left out) tells the runner and
`campaigner status` whether a batch is waiting for its window or dialing; the index serves the
per-batch counts and syncs.

Revision ID: 0004_batch
Revises: 0003_dialperf
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_batch"
down_revision: str | Sequence[str] | None = "0003_dialperf"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("batch") as batch:
        batch.add_column(sa.Column("call_time_window", sa.JSON(), nullable=True))
    op.create_index("ix_call_attempt_batch_id", "call_attempt", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_call_attempt_batch_id", table_name="call_attempt")
    with op.batch_alter_table("batch") as batch:
        batch.drop_column("call_time_window")
