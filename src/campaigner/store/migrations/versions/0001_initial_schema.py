"""Initial schema: campaigns, source files, contacts, attempts, batches, suppression, rejected rows.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    # campaigner.store.types.UTCDateTime stores through this type; migrations keep plain SQLAlchemy.
    return sa.DateTime(timezone=True)


def _status() -> sa.String:
    # Status columns hold StrEnum values as plain strings (no database enum types).
    return sa.String(length=32)


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("config_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", _status(), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign")),
        sa.UniqueConstraint("name", name=op.f("uq_campaign_name")),
    )
    op.create_table(
        "batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("retell_batch_id", sa.String(length=100), nullable=True),
        sa.Column("from_number", sa.String(length=32), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("variant", sa.String(length=40), nullable=True),
        sa.Column("state", _status(), nullable=False),
        sa.Column("task_count", sa.Integer(), nullable=False),
        sa.Column("trigger_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_batch_campaign_id_campaign")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch")),
        sa.UniqueConstraint("retell_batch_id", name=op.f("uq_batch_retell_batch_id")),
    )
    op.create_index("ix_batch_campaign_id_state", "batch", ["campaign_id", "state"])
    op.create_table(
        "source_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_source_file_campaign_id_campaign")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_file")),
        sa.UniqueConstraint(
            "campaign_id", "sha256", name=op.f("uq_source_file_campaign_id_sha256")
        ),
    )
    op.create_table(
        "suppression",
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_suppression_campaign_id_campaign")
        ),
        sa.PrimaryKeyConstraint("phone_e164", name=op.f("pk_suppression")),
    )
    op.create_table(
        "contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("phone_e164", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=3), nullable=True),
        sa.Column("timezones", sa.JSON(), nullable=False),
        sa.Column("timezone_key", sa.Text(), nullable=False),
        sa.Column("number_type", sa.String(length=32), nullable=True),
        sa.Column("external_id", sa.Text(), nullable=True),
        sa.Column("dynamic_variables", sa.JSON(), nullable=False),
        sa.Column("extra_metadata", sa.JSON(), nullable=False),
        sa.Column("original", sa.JSON(), nullable=False),
        sa.Column("status", _status(), nullable=False),
        sa.Column("attempts_made", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _utc(), nullable=True),
        sa.Column("final_outcome", _status(), nullable=True),
        sa.Column("variant", sa.String(length=40), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_contact_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["source_file_id"],
            ["source_file.id"],
            name=op.f("fk_contact_source_file_id_source_file"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact")),
        sa.UniqueConstraint(
            "campaign_id", "phone_e164", name=op.f("uq_contact_campaign_id_phone_e164")
        ),
    )
    op.create_index("ix_contact_claim", "contact", ["campaign_id", "status", "next_attempt_at"])
    op.create_table(
        "rejected_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("source_file_id", sa.Integer(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raw", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_rejected_row_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["source_file_id"],
            ["source_file.id"],
            name=op.f("fk_rejected_row_source_file_id_source_file"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_row")),
        sa.UniqueConstraint(
            "source_file_id", "row_number", name=op.f("uq_rejected_row_source_file_id_row_number")
        ),
    )
    op.create_index("ix_rejected_row_campaign_id", "rejected_row", ["campaign_id"])
    op.create_table(
        "call_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("attempt_number", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("retell_call_id", sa.String(length=100), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("variant", sa.String(length=40), nullable=True),
        sa.Column("agent_id", sa.String(length=100), nullable=False),
        sa.Column("agent_version", sa.Integer(), nullable=True),
        sa.Column("from_number", sa.String(length=32), nullable=False),
        sa.Column("to_number", sa.String(length=32), nullable=False),
        sa.Column("state", _status(), nullable=False),
        sa.Column("outcome_class", _status(), nullable=True),
        sa.Column("disconnection_reason", sa.String(length=64), nullable=True),
        sa.Column("error_detail", sa.Text(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("sent_at", _utc(), nullable=True),
        sa.Column("start_timestamp", _utc(), nullable=True),
        sa.Column("end_timestamp", _utc(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("cost_cents", sa.Float(), nullable=True),
        sa.Column("latency_e2e_p50_ms", sa.Float(), nullable=True),
        sa.Column("latency_e2e_p90_ms", sa.Float(), nullable=True),
        sa.Column("call_successful", sa.Boolean(), nullable=True),
        sa.Column("user_sentiment", sa.String(length=20), nullable=True),
        sa.Column("in_voicemail", sa.Boolean(), nullable=True),
        sa.Column("call_summary", sa.Text(), nullable=True),
        sa.Column("custom_analysis", sa.JSON(), nullable=True),
        sa.Column("recording_url", sa.Text(), nullable=True),
        sa.Column("public_log_url", sa.Text(), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("analysis_at", _utc(), nullable=True),
        sa.Column("finalized", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batch.id"], name=op.f("fk_call_attempt_batch_id_batch")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_call_attempt_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contact.id"], name=op.f("fk_call_attempt_contact_id_contact")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_attempt")),
        sa.UniqueConstraint(
            "contact_id",
            "attempt_number",
            name=op.f("uq_call_attempt_contact_id_attempt_number"),
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_call_attempt_idempotency_key")),
        sa.UniqueConstraint("retell_call_id", name=op.f("uq_call_attempt_retell_call_id")),
    )
    op.create_index(
        "ix_call_attempt_campaign_id_end_timestamp",
        "call_attempt",
        ["campaign_id", "end_timestamp"],
    )
    op.create_index("ix_call_attempt_campaign_id_state", "call_attempt", ["campaign_id", "state"])
    op.create_index(
        "ix_call_attempt_to_number_created_at", "call_attempt", ["to_number", "created_at"]
    )


def downgrade() -> None:
    for table in (
        "call_attempt",
        "rejected_row",
        "contact",
        "suppression",
        "source_file",
        "batch",
        "campaign",
    ):
        op.drop_table(table)
