"""Indexes that count a campaign without reading its rows.

Progress, `campaigner status` and run summaries count a campaign's contacts by status and final
outcome, and its attempts by state and outcome with their cost. Without an index holding those
columns SQLite read every contact row, which grows with the campaign (bench/README.md has the
figures). The attempts' index replaces (campaign_id, state), which it begins with.

Revision ID: 0005_count_indexes
Revises: 0004_batch
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005_count_indexes"
down_revision: str | Sequence[str] | None = "0004_batch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_contact_campaign_id_status_final_outcome",
        "contact",
        ["campaign_id", "status", "final_outcome"],
    )
    op.drop_index("ix_call_attempt_campaign_id_state", table_name="call_attempt")
    op.create_index(
        "ix_call_attempt_campaign_id_state_outcome_cost",
        "call_attempt",
        ["campaign_id", "state", "outcome_class", "cost_cents"],
    )


def downgrade() -> None:
    op.drop_index("ix_call_attempt_campaign_id_state_outcome_cost", table_name="call_attempt")
    op.create_index("ix_call_attempt_campaign_id_state", "call_attempt", ["campaign_id", "state"])
    op.drop_index("ix_contact_campaign_id_status_final_outcome", table_name="contact")
