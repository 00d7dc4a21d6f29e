"""Engines, sessions and schema migrations for SQLite and PostgreSQL.

    engine = make_engine("sqlite:///campaigner.db")     # or "postgresql://user@host/db"
    upgrade_database(engine)                             # Alembic, to the newest revision
    engine = open_store(url, create=False)               # both, for a command: a missing SQLite
                                                         # file and a server down are StoreErrors
    with transaction(engine) as session:                 # commits at the end, or rolls back
        ...

The schema only ever changes through the Alembic migrations in `campaigner/store/migrations`
(shipped inside the package, so an installed campaigner can migrate its own database).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import SessionTransaction, sessionmaker
from sqlmodel import Session

from campaigner.store.errors import StoreError, StoreMissing, StoreUnreachable

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "SQLITE_PAGE_SIZE",
    "Engine",
    "Session",
    "alembic_config",
    "make_engine",
    "open_store",
    "session_factory",
    "transaction",
    "upgrade_database",
    "url_for_people",
    "when_transaction_ends",
]

SQLITE_BUSY_TIMEOUT_MS = 300_000
"""How long a SQLite writer waits for another process's write to finish before failing.

An import holds the write lock while it stores its rows (for seconds per million contacts:
bench/README.md), and a run dialing meanwhile waits for it: with 30 s, an import of a few million
contacts made every run dialing on the same store fail with "database is locked"."""

# Between tries of a switch to WAL that found the database locked (`_use_wal`).
_WAL_RETRY_SECONDS = 0.05

SQLITE_PAGE_SIZE = 16_384
"""Page size of a SQLite database the store creates (bytes)."""

_MIGRATION_LOCK_ID = 0x63616D70  # "camp": one PostgreSQL advisory lock id for schema upgrades
_UPGRADE_LOCK = threading.Lock()


def make_engine(url: str) -> Engine:
    """An engine for a `sqlite:///path` or `postgresql://...` URL, set up for concurrent workers.

    SQLite gets WAL (readers never block the writer), 16 KB pages when the file is new, foreign
    keys, a busy timeout and `synchronous=NORMAL` (durable across a killed process; a power cut
    may lose the last commits).
    `postgresql://` and `postgres://` URLs use psycopg 3.
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:
        raise StoreError(
            "CAMPAIGNER_DATABASE_URL is not a database URL (use sqlite:///file.db or postgresql://...)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        engine = sa.create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        sa.event.listen(engine, "connect", _configure_sqlite_connection)
        return engine
    if backend in {"postgresql", "postgres"}:
        psycopg_url = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(psycopg_url, pool_pre_ping=True)
    shown = parsed.render_as_string(hide_password=True)
    raise StoreError(f"unsupported database {shown!r}: use sqlite:///file.db or postgresql://...")


def url_for_people(url: str) -> str:
    """A database URL as messages show it: a SQLite file by its absolute path (a relative one
    depends on the folder a command ran from, which is what people need to see), any password
    starred out."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError:  # unparsed, it may hold a password in a place we cannot tell
        return "CAMPAIGNER_DATABASE_URL (not a database URL)"
    file = _sqlite_file(url)
    if file is not None:
        parsed = parsed.set(database=str(file.absolute()))
    return parsed.render_as_string(hide_password=True)


def _sqlite_file(url: str) -> Path | None:
    """The file a `sqlite:///path` URL names; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in {None, "", ":memory:"}:
        return None
    return Path(str(parsed.database))


def open_store(url: str, *, create: bool) -> Engine:
    """An engine on the store at `url`, connected once and migrated to the newest schema.

    Without `create`, a SQLite file that does not exist is `StoreMissing`: SQLite would create an
    empty one, and a command run from another folder would then report an empty store (or keep a
    do-not-call entry where no run looks) instead of saying it found none. A database that cannot
    be connected to is `StoreUnreachable`, naming it.
    """
    engine = make_engine(url)  # first: a URL that is not one is its own StoreError
    try:
        file = _sqlite_file(url)
        if not create and file is not None and not file.exists():
            raise StoreMissing(
                f"no store at {file.absolute()}; "
                "run from the project folder or set CAMPAIGNER_DATABASE_URL"
            )
        try:
            with engine.connect():
                pass
        except sa.exc.OperationalError as error:
            raise StoreUnreachable(_unreachable_message(url, error)) from None
        upgrade_database(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _unreachable_message(url: str, error: sa.exc.OperationalError) -> str:
    """One line: the store, the driver's reason (without the password) and the likely fix."""
    password = make_url(url).password
    reason = " ".join(str(error.orig).split())
    if password:
        reason = reason.replace(str(password), "***")
    if _sqlite_file(url) is not None:
        return (
            f"cannot open the store at {url_for_people(url)} ({reason}): does its folder exist, "
            "and may you write there? is CAMPAIGNER_DATABASE_URL right?"
        )
    return (
        f"cannot reach the store at {url_for_people(url)} ({reason}): "
        "is PostgreSQL running? is CAMPAIGNER_DATABASE_URL right?"
    )


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode (a no-op once it is). Workers opening a new database together
    can find it locked by another's switch or first migration: SQLite then answers at once,
    without waiting out the busy timeout, so the switch is retried for as long as that would."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(_WAL_RETRY_SECONDS)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # 16 KB pages for a new database (before WAL writes its first page; an existing file keeps
        # its size): a contact row is about 700 bytes, and a large import spent much of its
        # commit (the WAL checkpoint) on per-page work with 4 KB pages (bench/ingest_throughput.py).
        cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 64 MB of page cache (the default is 2 MB): a large import keeps the contact unique index
        # in memory instead of re-reading its pages for each new number
        # (bench/ingest_throughput.py).
        cursor.execute("PRAGMA cache_size=-65536")
    finally:
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to `engine`; objects stay readable after commit (`expire_on_commit=False`)."""
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: a new session whose writes are committed when the block ends, and rolled
    back if it raises (the transaction rule: see `campaigner.store`)."""
    with session_factory(engine)() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def when_transaction_ends(
    session: Session, *, committed: Callable[[], None], abandoned: Callable[[], None]
) -> None:
    """Call `committed` once the session's current transaction has committed, or `abandoned`
    once it ends without committing (rolled back, or its session closed); one of them, once.

    For work outside the database that must follow the unit of work's fate, such as files
    that report what it stored: the caller owns the commit (the transaction rule), so the code
    that wrote them cannot know it.
    """
    root = session.get_transaction() or session.begin()
    outcome = {"committed": False}

    def after_commit(_session: Session) -> None:
        # SQLAlchemy reports a savepoint's release as a commit too.
        if session.get_nested_transaction() is None:
            outcome["committed"] = True

    def after_transaction_end(_session: Session, transaction: SessionTransaction) -> None:
        # Only the end of this transaction: not a savepoint's, nor a later transaction's of the
        # same session (the listener stays, inert: SQLAlchemy forbids removing it while it runs).
        if transaction is not root:
            return
        sa.event.remove(session, "after_commit", after_commit)
        (committed if outcome["committed"] else abandoned)()

    sa.event.listen(session, "after_commit", after_commit)
    sa.event.listen(session, "after_transaction_end", after_transaction_end)


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration for the packaged migrations, running on `engine`."""
    config = Config()
    config.set_main_option("script_location", "campaigner.store:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision` (default: the newest). Safe to call on every start.

    Workers that start together upgrade one at a time: across processes through the database
    (an advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite), and within a process through a
    lock, because Alembic's command context is process-global.
    """
    with _UPGRADE_LOCK:
        _upgrade(engine, revision)


def _upgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    if engine.dialect.name != "postgresql":
        command.upgrade(config, revision)
        return
    with engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        connection.commit()
        try:
            command.upgrade(config, revision)
        finally:
            connection.execute(
                sa.text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID}
            )
            connection.commit()
