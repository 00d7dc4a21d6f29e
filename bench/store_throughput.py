"""Throughput of the outcome store on SQLite (a temp file) and PostgreSQL (a temp database).

Measures, for each backend:

1. `contacts.insert` rows/s at several batch sizes (new rows), and again for a re-import of the
   same rows (every row a conflict, skipped);
2. `contacts.existing_numbers` and `suppression.reasons` lookups/s over all the numbers, and the
   time of one `claims.claim_due` of 50 among all those pending contacts;
3. dialing bookkeeping: `claims.claim_due` (batches of 50) followed by `attempts.create` for each
   contact, in contacts/s, with one worker and with four threads; then claims of 16, each
   followed by one `attempts.create` for all 16, the store calls the dialer's runner makes
   (it claims about 8 at a time and also counts each number's calls of the last 24 hours).

PostgreSQL is skipped with a note when 127.0.0.1:5432 is unreachable.

    .venv/bin/python bench/store_throughput.py [--rows 100000] [--dial 3000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigner import store
from campaigner.campaign import CampaignConfig
from campaigner.store import (
    AttemptPlan,
    attempts,
    campaigns,
    imports,
    make_engine,
    session_factory,
    suppression,
    upgrade_database,
)

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
BATCH_SIZES = (1_000, 5_000, 20_000)


def number(index: int) -> str:
    area, line = divmod(index, 10_000)
    return f"+1{200 + area:03d}555{line:04d}"


def contact_rows(
    campaign_id: int, source_id: int, count: int, first: int = 0
) -> list[dict[str, Any]]:
    return [
        {
            "campaign_id": campaign_id,
            "source_file_id": source_id,
            "row_number": i + 2,
            "phone_e164": number(i),
            "timezones": ["America/New_York"],
            "country": "US",
            "number_type": "FIXED_LINE_OR_MOBILE",
            "external_id": f"C{i:07d}",
            "dynamic_variables": {"first_name": f"Pat {i}", "clinic": "Downtown"},
            "extra_metadata": {"Customer ID": f"C{i:07d}"},
            "original": {"Phone": number(i), "First Name": f"Pat {i}", "Clinic": "Downtown"},
            "variant": "A" if i % 2 else "B",
        }
        for i in range(first, first + count)
    ]


def new_campaign(session: Session, name: str) -> tuple[int, int]:
    config = CampaignConfig.model_validate(
        {
            "name": name,
            "agent": {"agent_id": "agent_bench"},
            "from_numbers": ["+14155550100"],
            "columns": {"phone": "Phone"},
        }
    )
    campaign = campaigns.upsert(session=session, config=config)
    source = imports.create_file(
        session=session, campaign_id=campaign.id or 0, path="bench.csv", sha256=uuid.uuid4().hex * 2
    )
    session.commit()
    return campaign.id or 0, source.id or 0


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bench_inserts(engine: Engine, rows: int) -> None:
    sessions = session_factory(engine)
    for batch_size in BATCH_SIZES:
        with sessions() as session:
            campaign_id, source_id = new_campaign(session, f"insert-{batch_size}")
            values = contact_rows(campaign_id, source_id, rows)

            def insert(values: list[dict[str, Any]] = values, size: int = batch_size) -> None:
                store.contacts.insert(session=session, rows=values, now=NOW, batch_size=size)
                session.commit()

            fresh = timed(insert)
            again = timed(insert)
        print(
            f"  contacts.insert batch {batch_size:>6,}: {rows / fresh:>9,.0f} rows/s new, "
            f"{rows / again:>9,.0f} rows/s re-import (all skipped)"
        )


def bench_lookups(engine: Engine, rows: int) -> None:
    with session_factory(engine)() as session:
        campaign_id, source_id = new_campaign(session, "lookups")
        store.contacts.insert(
            session=session, rows=contact_rows(campaign_id, source_id, rows), now=NOW
        )
        session.commit()
        numbers = [number(i) for i in range(rows)]
        existing = timed(
            lambda: store.contacts.existing_numbers(
                session=session, campaign_id=campaign_id, numbers=numbers
            )
        )
        suppressed = timed(lambda: suppression.reasons(session=session, numbers=numbers))
        claims = 20

        def claim() -> None:
            store.claims.claim_due(
                session=session,
                campaign_id=campaign_id,
                now=NOW,
                limit=50,
                lease_owner="bench",
                lease_seconds=300,
            )
            session.commit()

        claiming = timed(lambda: [claim() for _ in range(claims)])
    print(f"  contacts.existing_numbers: {rows / existing:>9,.0f} numbers/s")
    print(f"  suppression.reasons:       {rows / suppressed:>9,.0f} numbers/s")
    print(f"  claims.claim_due (50 of {rows:,} pending): {claiming / claims * 1e3:.1f} ms")


def bench_dialing(engine: Engine, contacts: int, workers: int, runner_claims: bool = False) -> None:
    """Claim and write attempts until every contact is dialed: claims of 50 and one
    `attempts.create` per contact, or (`runner_claims`) claims of 16 and one `attempts.create`."""
    sessions = session_factory(engine)
    with sessions() as session:
        name = f"dial-{workers}" + ("-runner" if runner_claims else "")
        campaign_id, source_id = new_campaign(session, name)
        # Numbers of their own: a number with a live attempt elsewhere is never claimed.
        first = 1_000_000 * workers + (10_000_000 if runner_claims else 0)
        rows = contact_rows(campaign_id, source_id, contacts, first)
        store.contacts.insert(session=session, rows=rows, now=NOW)
        session.commit()
    start = threading.Barrier(workers)

    def work(owner: str) -> int:
        dialed = 0
        with sessions() as session:
            start.wait()
            while batch := store.claims.claim_due(
                session=session,
                campaign_id=campaign_id,
                now=NOW,
                limit=16 if runner_claims else 50,
                lease_owner=owner,
                lease_seconds=300,
            ):
                session.commit()
                if runner_claims:
                    plans = [
                        AttemptPlan(
                            contact=contact,
                            agent_id="agent_bench",
                            agent_version=None,
                            from_number="+14155550100",
                        )
                        for contact in batch
                    ]
                    dialed += len(attempts.create(session=session, plans=plans, lease_owner=owner))
                    session.commit()
                    continue
                for contact in batch:
                    plan = AttemptPlan(
                        contact=contact,
                        agent_id="agent_bench",
                        agent_version=None,
                        from_number="+14155550100",
                    )
                    dialed += len(attempts.create(session=session, plans=[plan], lease_owner=owner))
                    session.commit()
        return dialed

    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        dialed = sum(pool.map(work, [f"w{i}" for i in range(workers)]))
    elapsed = time.perf_counter() - began
    assert dialed == contacts, (dialed, contacts)
    what = "claims of 16 + attempts.create" if runner_claims else "claim + attempts.create of one"
    print(
        f"  {what}, {workers} worker(s): {dialed / elapsed:>7,.0f} contacts/s "
        f"({elapsed / dialed * 1e3:.2f} ms each)"
    )


@contextmanager
def sqlite_engine() -> Iterator[Engine]:
    with tempfile.TemporaryDirectory() as directory:
        engine = make_engine(f"sqlite:///{Path(directory) / 'bench.db'}")
        upgrade_database(engine)
        yield engine
        engine.dispose()


@contextmanager
def postgres_engine() -> Iterator[Engine | None]:
    admin = make_engine(POSTGRES_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"campaigner_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        print(f"  skipped: PostgreSQL unreachable ({error.orig})")
        yield None
        return
    engine = make_engine(POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        upgrade_database(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="contacts per insert run")
    parser.add_argument("--dial", type=int, default=3_000, help="contacts per dialing run")
    args = parser.parse_args()
    print("SQLite (WAL, synchronous=NORMAL, temp file):")
    with sqlite_engine() as engine:
        bench_inserts(engine, args.rows)
        bench_lookups(engine, args.rows)
        bench_dialing(engine, args.dial, workers=1)
        bench_dialing(engine, args.dial, workers=4)
        bench_dialing(engine, args.dial, workers=1, runner_claims=True)
    print("PostgreSQL (127.0.0.1:5432, temp database):")
    with postgres_engine() as engine:
        if engine is not None:
            bench_inserts(engine, args.rows)
            bench_lookups(engine, args.rows)
            bench_dialing(engine, args.dial, workers=1)
            bench_dialing(engine, args.dial, workers=4)
            bench_dialing(engine, args.dial, workers=1, runner_claims=True)


if __name__ == "__main__":
    main()
