"""Alembic environment: runs the packaged migrations on the engine `upgrade_database` passes in.

Run directly by `alembic -c src/campaigner/store/migrations/alembic.ini ...` (e.g. to autogenerate
a revision), it uses `CAMPAIGNER_DATABASE_URL` from campaigner's settings.
"""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from campaigner.settings import get_settings
from campaigner.store import models  # noqa: F401 -- registers every table on SQLModel.metadata
from campaigner.store.db import make_engine

engine = context.config.attributes.get("engine") or make_engine(get_settings().database_url)

with engine.connect() as connection:
    if connection.dialect.name == "sqlite":
        # One migrator at a time: a second process waits here (busy_timeout), then finds the
        # schema current. PostgreSQL is serialised by upgrade_database's advisory lock.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        # SQLite cannot ALTER most things in place: Alembic rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
