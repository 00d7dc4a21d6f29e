"""Which phone column of the file a contact's number came from.

- `contact.phone_column`: the header of that column (`columns.phone` may name several, tried in
  order). NULL for contacts imported before this revision: which column they came from was not
  recorded, and the campaign file of the time named one.

Revision ID: 0010_contact_phone_column
Revises: 0009_workspace_ledger
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_contact_phone_column"
down_revision: str | Sequence[str] | None = "0009_workspace_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact") as batch:
        batch.add_column(sa.Column("phone_column", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contact") as batch:
        batch.drop_column("phone_column")
