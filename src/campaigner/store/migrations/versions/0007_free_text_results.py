"""Retell's free strings are stored whatever their length.

`call_attempt.user_sentiment` (20 characters), `disconnection_reason` (64) and `agent_id` (100)
hold what Retell says, and Retell may say more: a 25-character sentiment failed the whole batch
of results it came in on PostgreSQL. They become TEXT. On PostgreSQL that changes no row (TEXT
and VARCHAR are stored alike); SQLite never enforced the lengths, but its table is rebuilt so
that the schema says what the models say.

The rebuild drops the trigger that keeps an attempt's call id from changing (0006) with the old
table: it is created again here, exactly as 0006 created it.

Revision ID: 0007_free_text_results
Revises: 0006_attempt_owner
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_free_text_results"
down_revision: str | Sequence[str] | None = "0006_attempt_owner"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns and the bounded types they had.
_WIDENED = {
    "user_sentiment": sa.String(length=20),
    "disconnection_reason": sa.String(length=64),
    "agent_id": sa.String(length=100),
}


def upgrade() -> None:
    with op.batch_alter_table("call_attempt") as batch:
        for name, bounded in _WIDENED.items():
            batch.alter_column(name, existing_type=bounded, type_=sa.Text())
    _recreate_sqlite_trigger()


def downgrade() -> None:
    # Values longer than the old bounds are cut to fit them (PostgreSQL would refuse the change).
    for name, bounded in _WIDENED.items():
        column = sa.column(name, sa.Text())
        op.execute(
            sa.table("call_attempt", column)
            .update()
            .where(sa.func.length(column) > bounded.length)
            .values({name: sa.func.substr(column, 1, bounded.length)})
        )
    with op.batch_alter_table("call_attempt") as batch:
        for name, bounded in _WIDENED.items():
            batch.alter_column(name, existing_type=sa.Text(), type_=bounded)
    _recreate_sqlite_trigger()


def _recreate_sqlite_trigger() -> None:
    """SQLite's batch mode rebuilt `call_attempt` without its trigger; PostgreSQL kept it."""
    if op.get_bind().dialect.name == "sqlite":
        attempt_owner = importlib.import_module(
            "campaigner.store.migrations.versions.0006_attempt_owner"
        )
        op.execute(attempt_owner._SQLITE_TRIGGER)
