"""Fixtures for ingest tests: a migrated SQLite store per test, campaigns, the sample files."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigner.campaign import CampaignConfig, load_campaign
from campaigner.store import make_engine, session_factory, upgrade_database
from tests.conftest import missing_dependency

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO / "sample_data"
POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("contacts-store") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    engine.dispose()
    return path


@pytest.fixture
def database_url(migrated_sqlite: Path, tmp_path: Path) -> str:
    path = tmp_path / "campaigner.db"
    shutil.copyfile(migrated_sqlite, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as session:
        yield session


@pytest.fixture
def demo_campaign() -> CampaignConfig:
    return load_campaign(REPO / "campaigns" / "demo.yaml")


@pytest.fixture
def strict_campaign() -> CampaignConfig:
    return load_campaign(SAMPLE_DATA / "messy-rules.yaml")


@pytest.fixture
def postgres_session() -> Iterator[Session]:
    """A session on a fresh, migrated PostgreSQL database, dropped afterwards."""
    admin = make_engine(POSTGRES_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"campaigner_contacts_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        admin.dispose()
        missing_dependency(f"PostgreSQL at {POSTGRES_ADMIN_URL} unreachable: {error.orig}")
    engine = make_engine(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        upgrade_database(engine)
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
