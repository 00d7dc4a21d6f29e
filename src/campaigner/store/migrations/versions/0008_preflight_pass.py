"""Preflight passes: the checks of a campaign's setup against Retell, remembered once passed.

`preflight_pass` holds one row per version of a campaign's setup that passed its preflight
(`campaigner check`): a fingerprint of the campaign's config, the Retell endpoint and the API
key, and when it passed. Runs started by a schedule every few minutes find the pass here and
do not ask Retell again until the file, the endpoint or the key changes.

Revision ID: 0008_preflight_pass
Revises: 0007_free_text_results
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_preflight_pass"
down_revision: str | Sequence[str] | None = "0007_free_text_results"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "preflight_pass",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("campaign", sa.String(length=64), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_preflight_pass")),
    )


def downgrade() -> None:
    op.drop_table("preflight_pass")
