"""One concurrency ledger per Retell workspace: run leases of every campaign share its slots.

- `run_lease.workspace`: which workspace the run dials (a fingerprint of Retell's address and
  the API key); the runs of every campaign dialing it split one pool of slots.
- `run_lease.wanted`: the slots the run could use now (NULL: as many as it can get).
- `run_lease.priority`, `run_lease.campaign_cap`: the campaign's `priority` and
  `caps.max_concurrency`, which every run needs to split the pool between campaigns.

Revision ID: 0009_workspace_ledger
Revises: 0008_preflight_pass
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_workspace_ledger"
down_revision: str | Sequence[str] | None = "0008_preflight_pass"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run_lease") as batch:
        # Defaults for the rows of runs started before this revision (one pool of their own).
        batch.add_column(
            sa.Column("workspace", sa.String(length=64), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("wanted", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("campaign_cap", sa.Integer(), nullable=True))
        batch.create_index("ix_run_lease_workspace", ["workspace"])


def downgrade() -> None:
    with op.batch_alter_table("run_lease") as batch:
        batch.drop_index("ix_run_lease_workspace")
        batch.drop_column("campaign_cap")
        batch.drop_column("priority")
        batch.drop_column("wanted")
        batch.drop_column("workspace")
