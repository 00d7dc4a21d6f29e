"""Shared test configuration and the store fixtures several packages use.

Tests that need an outside service (PostgreSQL, a browser) skip when it is missing on a developer's
machine, but fail under CI (`CI=true`), so a missing install step can never pass silently.

SQLite: the migrated schema is built once per test session (`sqlite_template`) and copied per test.
PostgreSQL: a fresh database `campaigner_test_<random>` is created and migrated once per test
session (`postgres_url`), emptied by the tests that use it (`empty_postgres`), dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import sqlalchemy as sa
from pydantic import AliasChoices, Field
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from campaigner import settings
from campaigner.store import make_engine, upgrade_database

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class _SettingsWithANumber(settings.Settings):
    """The settings with one more, a number. campaigner's own settings are free text (a key,
    URLs, paths) that any value satisfies, so this is how a test gives a process a setting it
    cannot read."""

    test_retries: int = Field(
        default=0, validation_alias=AliasChoices("CAMPAIGNER_TEST_RETRIES", "test_retries")
    )


@pytest.fixture
def invalid_setting(monkeypatch: pytest.MonkeyPatch) -> str:
    """The environment holds a setting that cannot be read; returns the one line of error that
    must name it."""
    monkeypatch.setattr(settings, "Settings", _SettingsWithANumber)
    monkeypatch.setenv("CAMPAIGNER_TEST_RETRIES", "many")
    return (
        "error: invalid setting: CAMPAIGNER_TEST_RETRIES: "
        "Input should be a valid integer, unable to parse string as an integer"
    )


def missing_dependency(reason: str) -> NoReturn:
    """Skip locally, fail in CI."""
    if IN_CI:
        pytest.fail(f"required by CI but missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file, to be copied by the tests that need one."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at its end."""
    admin = make_engine(POSTGRES_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"campaigner_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        admin.dispose()
        missing_dependency(f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable: {error.orig}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    migrated = make_engine(url)
    upgrade_database(migrated)
    migrated.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def empty_postgres(engine: Engine) -> None:
    """Remove every row of every table, so a test starts from an empty store."""
    tables = ", ".join(f'"{table.name}"' for table in SQLModel.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
