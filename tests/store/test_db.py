"""Engines, migrations and timestamps on both backends."""

from __future__ import annotations

import multiprocessing
import sqlite3
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from multiprocessing.synchronize import Barrier as BarrierType
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from campaigner.store import (
    SQLITE_PAGE_SIZE,
    Campaign,
    StoreError,
    alembic_config,
    campaigns,
    claims,
    make_engine,
    session_factory,
    upgrade_database,
)
from tests.conftest import POSTGRES_ADMIN_URL
from tests.store.factories import make_campaign


def test_migrations_build_exactly_the_schema_the_models_describe(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_a_model_change_without_a_migration_is_detected(engine: Engine) -> None:
    drifted = sa.MetaData()
    for table in SQLModel.metadata.sorted_tables:
        table.to_metadata(drifted)
    sa.Table("contact", drifted, sa.Column("nickname", sa.Text()), extend_existing=True)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, drifted)

    assert [(kind, column.name) for kind, *_, column in differences] == [("add_column", "nickname")]


def test_upgrading_twice_changes_nothing(engine: Engine) -> None:
    upgrade_database(engine)

    with engine.connect() as connection:
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert version == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_sqlite_engine_is_set_up_for_concurrent_workers(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")

    with engine.connect() as connection:
        pragmas = {
            name: connection.execute(sa.text(f"PRAGMA {name}")).scalar()
            for name in (
                "journal_mode",
                "foreign_keys",
                "busy_timeout",
                "synchronous",
                "cache_size",
            )
        }
    engine.dispose()

    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 300000,
        "synchronous": 1,
        "cache_size": -65536,
    }


@pytest.mark.parametrize(
    "url",
    ["postgresql://u@db.example/x", "postgres://u@db.example/x", "postgresql+psycopg2://u@h/x"],
)
def test_postgresql_urls_use_psycopg_3(url: str) -> None:
    engine = make_engine(url)

    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.dialect.driver == "psycopg"


def test_unsupported_or_malformed_urls_are_clear_errors_without_the_password() -> None:
    with pytest.raises(StoreError) as unsupported:
        make_engine("mysql://admin:hunter2@db.example/crm")
    with pytest.raises(StoreError) as malformed:
        make_engine("not a url :hunter2")

    assert str(unsupported.value) == (
        "unsupported database 'mysql://admin:***@db.example/crm': "
        "use sqlite:///file.db or postgresql://..."
    )
    assert "hunter2" not in str(malformed.value)
    assert "is not a database URL" in str(malformed.value)


def test_timestamps_are_stored_in_utc_and_read_back_aware(session: Session) -> None:
    campaign = make_campaign(session)
    paris = timezone(timedelta(hours=1))
    campaign.updated_at = datetime(2026, 3, 3, 16, 30, tzinfo=paris)
    session.add(campaign)
    session.commit()
    session.expire_all()

    stored = campaigns.get_by_name(session=session, name=campaign.name)

    assert stored is not None
    assert stored.updated_at == datetime(2026, 3, 3, 15, 30, tzinfo=UTC)
    assert stored.updated_at.tzinfo == UTC
    later = session.exec(
        select(Campaign).where(Campaign.updated_at > datetime(2026, 3, 3, 15, 29, tzinfo=UTC))
    ).all()
    assert [c.name for c in later] == [campaign.name]


def test_naive_timestamps_are_refused(session: Session) -> None:
    campaign = make_campaign(session)
    campaign.updated_at = datetime(2026, 3, 3, 16, 30)
    session.add(campaign)

    with pytest.raises(sa.exc.StatementError, match="naive datetime 2026-03-03T16:30:00"):
        session.commit()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails in CI) without a server
    admin = make_engine(POSTGRES_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"campaigner_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrate_when_all_are_ready(url: str) -> None:
    _START.wait()
    engine = make_engine(url)
    upgrade_database(engine)
    engine.dispose()


def _share_barrier(barrier: BarrierType) -> None:
    global _START
    _START = barrier


_START: BarrierType


@pytest.mark.slow
def test_worker_processes_starting_together_migrate_once(empty_database_url: str) -> None:
    workers = 3
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(workers)
    with ProcessPoolExecutor(
        workers, mp_context=spawn, initializer=_share_barrier, initargs=(start,)
    ) as pool:
        list(pool.map(_migrate_when_all_are_ready, [empty_database_url] * workers))

    engine = make_engine(empty_database_url)
    with engine.connect() as connection:
        versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
        tables = sa.inspect(connection).get_table_names()
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    engine.dispose()
    assert versions == [(head,)]
    assert set(tables) == {*SQLModel.metadata.tables, "alembic_version"}


def test_threads_of_one_process_migrate_one_at_a_time(tmp_path: Path) -> None:
    engines = [make_engine(f"sqlite:///{tmp_path / 'fresh.db'}") for _ in range(3)]

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(upgrade_database, engines))

    with engines[0].connect() as connection:
        versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    for engine in engines:
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    engine.dispose()
    assert versions == [(head,)]


def _insert_contact_as_of_old(connection: sa.Connection, at: datetime, **columns: object) -> int:
    """A campaign with one contact written with SQL, as an older revision's store holds them
    (`columns` are the contact's columns that revision adds); returns the campaign's id."""
    campaign_id: int = connection.execute(
        sa.text(
            "INSERT INTO campaign (name, config, config_sha256, status, created_at, updated_at)"
            " VALUES ('old', '{}', 'x', 'active', :at, :at) RETURNING id"
        ),
        {"at": at},
    ).scalar_one()
    source_id = connection.execute(
        sa.text(
            "INSERT INTO source_file (campaign_id, path, sha256, rows_read, accepted, rejected,"
            " duplicates, suppressed, created_at) VALUES (:c, 'a.csv', 'y', 1, 1, 0, 0, 0, :at)"
            " RETURNING id"
        ),
        {"c": campaign_id, "at": at},
    ).scalar_one()
    contact = {
        "campaign_id": campaign_id,
        "source_file_id": source_id,
        "row_number": 2,
        "phone_e164": "+12125550100",
        "timezones": '["America/New_York"]',
        "timezone_key": "America/New_York",
        "dynamic_variables": "{}",
        "extra_metadata": "{}",
        "original": "{}",
        "status": "pending",
        "attempts_made": 0,
        "created_at": at,
        "updated_at": at,
        **columns,
    }
    connection.execute(sa.insert(sa.table("contact", *map(sa.column, contact))).values(contact))
    return campaign_id


def test_migration_0002_gives_every_contact_a_due_time_and_can_be_undone(
    empty_database_url: str,
) -> None:
    engine = make_engine(empty_database_url)
    upgrade_database(engine, "0001")
    created = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    # Written as UTCDateTime would: naive UTC text on SQLite, timestamptz on PostgreSQL.
    at = created.replace(tzinfo=None) if engine.dialect.name == "sqlite" else created
    with engine.begin() as connection:
        campaign_id = _insert_contact_as_of_old(connection, at)

    upgrade_database(engine)
    with session_factory(engine)() as session:
        assert claims.next_due_time(session=session, campaign_id=campaign_id) == created
    command.downgrade(alembic_config(engine), "0001")
    upgrade_database(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()


def test_migration_0010_leaves_the_phone_column_of_earlier_contacts_null_and_can_be_undone(
    empty_database_url: str,
) -> None:
    engine = make_engine(empty_database_url)
    upgrade_database(engine, "0009_workspace_ledger")
    at = datetime(2026, 3, 1, 12, 0)
    with engine.begin() as connection:
        _insert_contact_as_of_old(connection, at, next_attempt_at=at)

    upgrade_database(engine)
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT phone_column FROM contact")).all()
    command.downgrade(alembic_config(engine), "0009_workspace_ledger")
    with engine.connect() as connection:
        columns = [column["name"] for column in sa.inspect(connection).get_columns("contact")]
    engine.dispose()
    assert stored == [(None,)]
    assert "phone_column" not in columns


def test_a_new_sqlite_store_gets_large_pages_and_an_existing_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    existing = tmp_path / "existing.db"
    with sqlite3.connect(existing) as connection:
        connection.execute("PRAGMA page_size=4096")
        connection.execute("CREATE TABLE kept (id INTEGER PRIMARY KEY)")

    for path, expected in ((tmp_path / "new.db", SQLITE_PAGE_SIZE), (existing, 4096)):
        engine = make_engine(f"sqlite:///{path}")
        upgrade_database(engine)
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA page_size").scalar() == expected
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        engine.dispose()
