"""Fixtures for ingest tests: a migrated SQLite store per test, campaigns, the sample files."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigner.campaign import CampaignConfig, load_campaign
from campaigner.store import make_engine, session_factory
from tests.conftest import empty_postgres

REPO = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO / "sample_data"


@pytest.fixture
def database_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "campaigner.db"
    shutil.copyfile(sqlite_template, path)
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
def postgres_session(postgres_url: str) -> Iterator[Session]:
    """A session on the test session's PostgreSQL database, emptied first."""
    engine = make_engine(postgres_url)
    empty_postgres(engine)
    try:
        with session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()
