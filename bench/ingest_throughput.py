"""End-to-end contact ingest throughput on a messy million-row CSV, beside the plain approach.

1. Generates (seeded) a messy CSV into a temp dir: mostly distinct numbers in a dozen writings,
   Excel floats and scientific notation, extensions, in-file duplicates written another way,
   invalid and unparseable cells, empty cells, UK and Australian numbers, explicit time zones.
2. Runs `ingest_contacts_file` on it into a fresh temp SQLite store (read -> normalise -> validate
   -> time zones -> dedupe -> store -> rejected-rows file), in a child process so the peak RSS
   (`ru_maxrss`) is the import's alone; a second child times the stages without the store.
3. The floor SQLite sets: a third child copies the contact rows the import stored into a fresh
   store with the driver's `executemany` in one transaction, nothing else timed (the rows are read
   back beforehand), then commits: what inserting and committing these rows costs SQLite itself.
4. Runs the plain approach, `df["Phone"].apply(...)` with phonenumbers per row (parse, validate,
   format E.164, time zones), on a sample of the same file, and extrapolates (printed as such).

Targets (docs/ingest.md): >= 100,000 rows/s end to end and <= 1.5 GB peak RSS.

A million distinct numbers do not fit the fictional NANP range 555-0100..0199 (about 45,000 in
valid area codes), so this file, and only this file, uses the 555 exchange with every line number
(555-0000..9999) in valid area codes. It lives in a temp dir, is deleted afterwards, and is never
dialed.

    .venv/bin/python bench/ingest_throughput.py [--rows 1000000] [--plain-sample 50000]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers.timezone import time_zones_for_number

SEED = 7
HEADERS = [
    "First Name",
    "Last Name",
    "Phone",
    "Email",
    "Appointment Date",
    "Appointment Time",
    "Clinic",
    "Customer ID",
    "Time Zone",
]
CAMPAIGN = {
    "name": "bench-ingest",
    "agent": {"agent_id": "agent_bench"},
    "from_numbers": ["+14155550100"],
    "columns": {
        "phone": "Phone",
        "timezone": "Time Zone",
        "external_id": "Customer ID",
        "dynamic_variables": {
            "first_name": "First Name",
            "appointment_date": "Appointment Date",
            "appointment_time": "Appointment Time",
            "clinic": "Clinic",
        },
        "metadata": ["Customer ID", "Email"],
    },
}
NANP_WRITINGS = [
    ("({a}) {x}-{l}", 20),
    ("{a}-{x}-{l}", 18),
    ("{a}.{x}.{l}", 8),
    ("+1 {a} {x} {l}", 14),
    ("1-{a}-{x}-{l}", 8),
    ("{a}{x}{l}", 12),
    ("+1{a}{x}{l}", 8),
    ("1 ({a}) {x}-{l}", 4),
    ("{a}{x}{l}.0", 4),  # Excel showed the column as numbers
    (" {a} {x} {l} ", 4),
]
OTHER_COUNTRIES = ["+44 20 7946 0{:03d}", "+44 113 496 0{:03d}", "+61 491 570 {:03d}"]
BAD_CELLS = ["555-01{:02d}", "+1 123 555 01{:02d}", "call {:02d} after 5pm", "415-555-01{:02d}99"]
FIRST_NAMES = ["Olivia", "Liam", "Emma", "Noah", "Zoë", "José", "Renée", "Mei", "Omar", "Priya"]
LAST_NAMES = ["Smith", "Garcia", "Nguyen", "O'Brien", "Côté", "Kim", "Patel", "Lee", "Hall"]
CLINICS = ["Maple Street Dental", "Harbor View Family Dentistry", "Cedar Park Smiles"]
ZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"]


def main() -> None:
    """Parse arguments; generate, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--plain-sample", type=int, default=50_000)
    parser.add_argument(
        "--child", choices=["ingest", "stages", "sqlite-floor"], help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        help="also import into a fresh PostgreSQL database created through this URL "
        "(e.g. postgresql://postgres@127.0.0.1:5432/postgres) and dropped afterwards",
    )
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        run_child(arguments.child, arguments.file, arguments.database_url)
        return
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} (other processes slow the wall times)")
    with tempfile.TemporaryDirectory(prefix="campaigner-bench-") as folder:
        path = Path(folder) / "contacts_1m.csv"
        started = time.perf_counter()
        generate(path, arguments.rows)
        size_mb = path.stat().st_size / 1e6
        print(
            f"generated {arguments.rows:,} rows ({size_mb:.0f} MB) in "
            f"{time.perf_counter() - started:.1f} s: {path.name}"
        )
        sqlite_url = f"sqlite:///{folder}/bench.db"
        end_to_end = child(path, "ingest", sqlite_url)
        floor = child(path, "sqlite-floor", sqlite_url)
        stages = child(path, "stages", sqlite_url)
        postgres = postgres_import(path, arguments.postgres) if arguments.postgres else None
        plain = plain_approach(path, arguments.plain_sample)
    report(arguments.rows, end_to_end, floor, stages, postgres, plain)


def generate(path: Path, rows: int) -> None:
    """The messy file; see the module docstring."""
    rng = np.random.default_rng(SEED)
    area_codes = np.array(
        [
            str(code)
            for code in range(200, 1000)
            if phonenumbers.is_valid_number(phonenumbers.parse(f"+1{code}5550150"))
        ]
    )
    # Distinct national numbers: a random area code and line per row, repeats removed.
    national = pd.unique(
        pd.Series(area_codes[rng.integers(0, len(area_codes), rows * 2)])
        + "555"
        + pd.Series(rng.integers(0, 10_000, rows * 2)).astype(str).str.zfill(4)
    )[:rows]
    kind = rng.choice(
        ["nanp", "repeat", "other", "bad", "empty", "extension", "scientific"],
        size=rows,
        p=[0.935, 0.02, 0.01, 0.02, 0.005, 0.005, 0.005],
    )
    writing = rng.choice(
        len(NANP_WRITINGS),
        size=rows,
        p=np.array([weight for _, weight in NANP_WRITINGS]) / sum(w for _, w in NANP_WRITINGS),
    )
    phones = np.empty(rows, dtype=object)
    for index, (pattern, _) in enumerate(NANP_WRITINGS):
        chosen = np.flatnonzero(writing == index)
        numbers = pd.Series(national[chosen])
        phones[chosen] = _format(pattern, numbers)
    earlier = rng.integers(0, rows, size=rows)
    repeat = np.flatnonzero(kind == "repeat")
    phones[repeat] = ["+1 " + number for number in national[earlier[repeat]]]
    for name, cells in (("other", OTHER_COUNTRIES), ("bad", BAD_CELLS)):
        picked = np.flatnonzero(kind == name)
        phones[picked] = [
            cells[choice].format(line)
            for choice, line in zip(
                rng.integers(0, len(cells), len(picked)),
                rng.integers(0, 100, len(picked)),
                strict=True,
            )
        ]
    phones[kind == "empty"] = ""
    extension = np.flatnonzero(kind == "extension")
    phones[extension] = [f"{number} x{len(number)}" for number in national[extension]]
    scientific = np.flatnonzero(kind == "scientific")
    phones[scientific] = [f"{number[0]}.{number[1:]}E9" for number in national[scientific]]

    first = rng.choice(FIRST_NAMES, rows)
    last = rng.choice(LAST_NAMES, rows)
    days = pd.Timestamp("2026-03-02") + pd.to_timedelta(rng.integers(0, 30, rows), unit="D")
    zone_cells = np.where(rng.random(rows) < 0.03, rng.choice(ZONES, rows), "")
    zone_cells[rng.random(rows) < 0.001] = "Eastern"
    frame = pd.DataFrame(
        {
            "First Name": first,
            "Last Name": last,
            "Phone": phones,
            "Email": pd.Series(first).str.lower()
            + "."
            + np.arange(rows).astype(str)
            + "@example.com",
            "Appointment Date": days.strftime("%Y-%m-%d"),
            "Appointment Time": rng.choice(["09:00", "10:30", "13:00", "15:30"], rows),
            "Clinic": rng.choice(CLINICS, rows),
            "Customer ID": pd.Series(np.arange(rows)).astype(str).str.zfill(8),
            "Time Zone": zone_cells,
        }
    )
    frame.to_csv(path, index=False, lineterminator="\r\n")


def _format(pattern: str, numbers: pd.Series) -> np.ndarray:
    parts = {"a": numbers.str.slice(0, 3), "x": numbers.str.slice(3, 6), "l": numbers.str.slice(6)}
    text = pd.Series("", index=numbers.index, dtype="str")
    rest = pattern
    while rest:
        head, brace, rest = rest.partition("{")
        text = text + head
        if brace:
            field, _, rest = rest.partition("}")
            text = text + parts[field]
    return text.to_numpy(dtype=object)


def child(path: Path, mode: str, database_url: str) -> dict[str, float]:
    """Run one measurement in a fresh interpreter; its peak RSS is its own."""
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--file",
            str(path),
            "--database-url",
            database_url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    figures: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return figures


def postgres_import(path: Path, admin_url: str) -> dict[str, float]:
    """The end-to-end import into a PostgreSQL database made for it (and dropped afterwards)."""
    import sqlalchemy as sa

    url = sa.make_url(admin_url).set(drivername="postgresql+psycopg")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"campaigner_bench_{os.getpid()}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        return child(path, "ingest", url.set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()


def run_child(mode: str, path: Path, database_url: str) -> None:
    """Child process: the end-to-end import (into `database_url`), the SQLite floor (from the
    SQLite database the import wrote), or the stages without the store."""
    from campaigner.campaign import CampaignConfig
    from campaigner.contacts.classify import classify_rows, map_columns
    from campaigner.contacts.ingest import ingest_contacts_file
    from campaigner.contacts.reading import read_contact_table
    from campaigner.store import make_engine, transaction, upgrade_database

    config = CampaignConfig.model_validate(CAMPAIGN)
    figures: dict[str, float] = {}
    if mode == "ingest":
        engine = make_engine(database_url)
        upgrade_database(engine)
        with tempfile.TemporaryDirectory(prefix="campaigner-bench-out-") as out_dir:
            started, cpu_started = time.perf_counter(), time.process_time()
            # The commit (at the end of the transaction) is part of what an import costs.
            with transaction(engine) as session:
                summary = ingest_contacts_file(
                    session=session, config=config, path=path, out_dir=Path(out_dir)
                )
            figures["seconds"] = time.perf_counter() - started
            figures["cpu_seconds"] = time.process_time() - cpu_started
        engine.dispose()
        figures |= {
            "rows_read": summary.rows_read,
            "accepted": summary.accepted,
            "rejected": summary.rejected_total,
        }
        figures |= {f"rejected.{reason}": count for reason, count in summary.rejected.items()}
    elif mode == "sqlite-floor":
        figures |= sqlite_floor(Path(database_url.removeprefix("sqlite:///")))
    else:
        started = time.perf_counter()
        table = read_contact_table(path)
        figures["read"] = time.perf_counter() - started
        started = time.perf_counter()
        classify_rows(table, map_columns(table, config.columns), config.numbers)
        figures["classify"] = time.perf_counter() - started
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def sqlite_floor(imported: Path) -> dict[str, float]:
    """Insert the contacts stored in `imported` again into a fresh store through the driver's
    executemany, as the store's bulk insert runs it (every value bound, 10,000 rows per call, one
    transaction, the store's connection settings), and commit: the time SQLite itself needs for
    these rows."""
    from campaigner.store import make_engine, upgrade_database

    source = sqlite3.connect(imported)
    tables = {
        name: source.execute(f"SELECT * FROM {name} ORDER BY id")  # noqa: S608 (fixed names)
        for name in ("campaign", "source_file", "contact")
    }
    # Every column but the id, which the database assigns as it does on import.
    columns = {name: [d[0] for d in cursor.description][1:] for name, cursor in tables.items()}
    rows = {name: [row[1:] for row in cursor.fetchall()] for name, cursor in tables.items()}
    source.close()
    engine = make_engine(f"sqlite:///{imported.parent / 'floor.db'}")
    upgrade_database(engine)
    connection = engine.raw_connection()
    cursor = connection.cursor()
    for name in ("campaign", "source_file"):
        cursor.executemany(_insert_statement(name, columns[name]), rows[name])
    contacts = rows["contact"]
    statement = _insert_statement("contact", columns["contact"])
    statement += " ON CONFLICT (campaign_id, phone_e164) DO NOTHING"
    started = time.perf_counter()
    for start in range(0, len(contacts), 10_000):
        cursor.executemany(statement, contacts[start : start + 10_000])
    inserted = time.perf_counter()
    connection.commit()
    committed = time.perf_counter()
    connection.close()
    engine.dispose()
    return {
        "contacts": len(contacts),
        "executemany": inserted - started,
        "commit": committed - inserted,
    }


def _insert_statement(table: str, names: list[str]) -> str:
    """An insert of one row of `names` into `table`, every value bound."""
    # Names read from the store's own schema, not from the input.
    columns = ", ".join(names)
    return f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' for _ in names)})"  # noqa: S608


def plain_approach(path: Path, sample: int) -> dict[str, float]:
    """`df.apply` with phonenumbers per row on the first `sample` rows (parse, validate, zones)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=sample)

    def normalise(cell: str) -> tuple[str | None, tuple[str, ...]]:
        try:
            number = phonenumbers.parse(cell, "US")
        except phonenumbers.NumberParseException:
            return None, ()
        if not phonenumbers.is_valid_number(number):
            return None, ()
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return e164, tuple(time_zones_for_number(number))

    started = time.perf_counter()
    frame["Phone"].apply(normalise)
    seconds = time.perf_counter() - started
    return {"rows": len(frame), "seconds": seconds}


def report(
    rows: int,
    end_to_end: dict[str, float],
    floor: dict[str, float],
    stages: dict[str, float],
    postgres: dict[str, float] | None,
    plain: dict[str, float],
) -> None:
    """Print the figures."""
    seconds = end_to_end["seconds"]
    print(f"\nend to end (ingest_contacts_file into a temp SQLite store), {rows:,} rows:")
    print(f"  {seconds:.1f} s = {rows / seconds:,.0f} rows/s (target >= 100,000)")
    print(f"  CPU time {end_to_end['cpu_seconds']:.1f} s (all threads of the process)")
    print(f"  peak RSS {end_to_end['peak_rss_mb']:,.0f} MB (target <= 1,500)")
    print(
        f"  accepted {end_to_end['accepted']:,.0f}, rejected {end_to_end['rejected']:,.0f}: "
        + ", ".join(
            f"{key.split('.', 1)[1]} {value:,.0f}"
            for key, value in end_to_end.items()
            if key.startswith("rejected.")
        )
    )
    store = seconds - stages["read"] - stages["classify"]
    print("stages (separate run, without the store):")
    print(f"  read      {stages['read']:.1f} s = {rows / stages['read']:,.0f} rows/s")
    print(f"  classify  {stages['classify']:.1f} s = {rows / stages['classify']:,.0f} rows/s")
    print(
        f"  read + classify {rows / (stages['read'] + stages['classify']):,.0f} rows/s, "
        f"peak RSS {stages['peak_rss_mb']:,.0f} MB"
    )
    print(f"  the rest of the end-to-end time (store, files): about {store:.1f} s")
    floor_seconds = floor["executemany"] + floor["commit"]
    print(
        f"SQLite alone, the {floor['contacts']:,.0f} stored contact rows again (executemany, one "
        f"transaction, commit): {floor_seconds:.1f} s (executemany {floor['executemany']:.1f} s, "
        f"commit {floor['commit']:.1f} s)"
    )
    if postgres is not None:
        print(
            f"end to end into PostgreSQL: {postgres['seconds']:.1f} s = "
            f"{rows / postgres['seconds']:,.0f} rows/s, CPU time {postgres['cpu_seconds']:.1f} s, "
            f"peak RSS {postgres['peak_rss_mb']:,.0f} MB"
        )
    plain_rate = plain["rows"] / plain["seconds"]
    print(
        f"plain df.apply + phonenumbers per row: measured on a sample of {plain['rows']:,.0f} rows "
        f"({plain_rate:,.0f} rows/s, phone column only), extrapolated to {rows:,} rows: "
        f"{rows / plain_rate:.1f} s"
    )


if __name__ == "__main__":
    main()
