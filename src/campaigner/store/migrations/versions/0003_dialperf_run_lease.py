"""Runs of one campaign share its concurrency: a lease row per live run.

Two runs of a campaign each read Retell's concurrency and each took the whole share, so together
they oversubscribed the account. Each run now renews a `run_lease` row (the slots it holds, its
calls in progress, an expiry a few seconds ahead) and holds its part of the share among the rows
still alive.

Revision ID: 0003_dialperf
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_dialperf"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "run_lease",
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("slots", sa.Integer(), nullable=False),
        sa.Column("calls_in_progress", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_run_lease_campaign_id_campaign")
        ),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_run_lease")),
    )
    op.create_index("ix_run_lease_campaign_id", "run_lease", ["campaign_id"])


def downgrade() -> None:
    op.drop_index("ix_run_lease_campaign_id", table_name="run_lease")
    op.drop_table("run_lease")
