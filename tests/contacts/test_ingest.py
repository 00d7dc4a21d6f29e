"""Importing files into a campaign: every row accounted for, store contents, files, no-ops."""

from __future__ import annotations

import csv
import gc
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from campaigner import store
from campaigner.campaign import CampaignConfig
from campaigner.contacts import ingest as ingest_module
from campaigner.contacts.errors import ContactFileError
from campaigner.contacts.ingest import IngestConflict, IngestSummary, ingest_contacts_file
from campaigner.contacts.phones import normalise_number
from campaigner.contacts.variants import assign_variant
from campaigner.store import Campaign, Contact, RejectedRow, SourceFile, suppression
from tests.contacts.conftest import SAMPLE_DATA

MESSY_VARIANTS = ["contacts_messy.csv", "contacts_messy_utf16.txt", "contacts_messy.xlsx"]

# sample_data/README.md documents these figures; the generator is seeded, so they are stable.
CLEAN_INTO_DEMO = {"suppressed": 4}
MESSY_INTO_DEMO = {
    "missing_number": 2,
    "unparseable": 2,
    "invalid_number": 3,
    "invalid_timezone": 1,
    "unknown_timezone": 1,
    "duplicate_in_file": 1,
    "duplicate_in_campaign": 2,
    "suppressed": 1,
}
# (row number, reason) of the rejected messy rows, as the table in sample_data/README.md lists them.
MESSY_REJECTED_ROWS = [
    ("3", "duplicate_in_file"),
    ("4", "missing_number"),
    ("5", "unparseable"),
    ("6", "unparseable"),
    ("7", "invalid_number"),
    ("8", "invalid_number"),
    ("9", "invalid_number"),
    ("11", "unknown_timezone"),
    ("15", "invalid_timezone"),
    ("19", "missing_number"),
    ("24", "duplicate_in_campaign"),
    ("25", "duplicate_in_campaign"),
    ("26", "suppressed"),
]
CLEAN_INTO_STRICT = {"country_not_allowed": 10, "suppressed": 4}
MESSY_INTO_STRICT = {
    "missing_number": 2,
    "unparseable": 2,
    "invalid_number": 3,
    "country_not_allowed": 2,
    "not_mobile": 1,
    "invalid_timezone": 1,
    "duplicate_in_file": 1,
    "duplicate_in_campaign": 2,
    "suppressed": 1,
}


def load_sample_dnc(session: Session) -> None:
    with (SAMPLE_DATA / "dnc.csv").open(encoding="utf-8") as handle:
        numbers = [
            normalise_number(row["Phone Number"], "US").e164 for row in csv.DictReader(handle)
        ]
    suppression.add(
        session=session,
        entries=[(number, "asked not to be called", "dnc.csv") for number in numbers if number],
    )
    session.commit()


def ingest(session: Session, config: CampaignConfig, path: Path, out_dir: Path) -> IngestSummary:
    summary = ingest_contacts_file(session=session, config=config, path=path, out_dir=out_dir)
    session.commit()  # the import is the caller's unit of work, as in `store.transaction`
    assert summary.rows_read == summary.accepted + summary.rejected_total
    assert gc.isenabled()  # paused during the import only
    return summary


def stored_rows(session: Session, summary: IngestSummary) -> tuple[int, int]:
    source = session.exec(select(SourceFile).where(SourceFile.sha256 == summary.sha256)).one()
    contacts = session.exec(
        select(func.count()).select_from(Contact).where(Contact.source_file_id == source.id)
    ).one()
    rejected = session.exec(
        select(func.count()).select_from(RejectedRow).where(RejectedRow.source_file_id == source.id)
    ).one()
    assert (source.rows_read, source.accepted, source.rejected) == (
        summary.rows_read,
        summary.accepted,
        summary.rejected_total,
    )
    return contacts, rejected


@pytest.mark.parametrize("messy", MESSY_VARIANTS)
def test_sample_files_into_the_demo_campaign(
    session: Session, demo_campaign: CampaignConfig, tmp_path: Path, messy: str
) -> None:
    load_sample_dnc(session)
    clean = ingest(session, demo_campaign, SAMPLE_DATA / "contacts.csv", tmp_path)
    assert (clean.rows_read, clean.accepted, clean.rejected) == (400, 396, CLEAN_INTO_DEMO)
    assert stored_rows(session, clean) == (396, 4)

    summary = ingest(session, demo_campaign, SAMPLE_DATA / messy, tmp_path)
    assert (summary.rows_read, summary.accepted, summary.blank_rows) == (23, 10, 2)
    assert summary.rejected == MESSY_INTO_DEMO
    assert (summary.duplicates, summary.suppressed) == (3, 1)
    assert stored_rows(session, summary) == (10, 13)
    assert summary.rejected_file is not None
    with Path(summary.rejected_file).open(encoding="utf-8-sig", newline="") as handle:
        rejected = [(row["row_number"], row["reason"]) for row in csv.DictReader(handle)]
    assert rejected == MESSY_REJECTED_ROWS


@pytest.mark.parametrize(("ratio", "way"), [(0, "existing_numbers"), (10**9, "numbers")])
def test_the_campaign_numbers_read_whole_or_looked_up_reject_the_same_rows(
    session: Session,
    demo_campaign: CampaignConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ratio: int,
    way: str,
) -> None:
    load_sample_dnc(session)
    ingest(session, demo_campaign, SAMPLE_DATA / "contacts.csv", tmp_path)
    monkeypatch.setattr(ingest_module, "_CAMPAIGN_READ_WHOLE_RATIO", ratio)
    called: list[str] = []
    for name in ("existing_numbers", "numbers"):
        real = getattr(store.contacts, name)
        monkeypatch.setattr(
            store.contacts,
            name,
            lambda real=real, name=name, **kwargs: called.append(name) or real(**kwargs),
        )

    summary = ingest(session, demo_campaign, SAMPLE_DATA / "contacts_messy.csv", tmp_path)

    assert called == [way]
    assert summary.rejected == MESSY_INTO_DEMO
    assert summary.rejected_file is not None
    with Path(summary.rejected_file).open(encoding="utf-8-sig", newline="") as handle:
        rejected = [(row["row_number"], row["reason"]) for row in csv.DictReader(handle)]
    assert rejected == MESSY_REJECTED_ROWS


@pytest.mark.postgres
def test_sample_files_into_the_demo_campaign_on_postgresql(
    postgres_session: Session, demo_campaign: CampaignConfig, tmp_path: Path
) -> None:
    load_sample_dnc(postgres_session)
    clean = ingest(postgres_session, demo_campaign, SAMPLE_DATA / "contacts.csv", tmp_path)
    assert (clean.accepted, clean.rejected) == (396, CLEAN_INTO_DEMO)
    summary = ingest(postgres_session, demo_campaign, SAMPLE_DATA / "contacts_messy.csv", tmp_path)
    assert (summary.rows_read, summary.accepted, summary.rejected) == (23, 10, MESSY_INTO_DEMO)
    assert stored_rows(postgres_session, summary) == (10, 13)
    again = ingest(postgres_session, demo_campaign, SAMPLE_DATA / "contacts.csv", tmp_path)
    assert again.already_ingested


def test_sample_files_into_the_strict_campaign(
    session: Session, strict_campaign: CampaignConfig, tmp_path: Path
) -> None:
    load_sample_dnc(session)
    clean = ingest(session, strict_campaign, SAMPLE_DATA / "contacts.csv", tmp_path)
    assert (clean.accepted, clean.rejected) == (386, CLEAN_INTO_STRICT)
    summary = ingest(session, strict_campaign, SAMPLE_DATA / "contacts_messy.csv", tmp_path)
    assert (summary.rows_read, summary.accepted) == (23, 8)
    assert summary.rejected == MESSY_INTO_STRICT


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


HEADER = (
    "First Name,Last Name,Phone,Email,Appointment Date,Appointment Time,Clinic,"
    "Customer ID,Time Zone\n"
)


def ingest_one_contact(session: Session, config: CampaignConfig, tmp_path: Path) -> None:
    """Import a file of one contact, +12125550101, into the campaign."""
    ingest(session, config, write(tmp_path / "a.csv", HEADER + "A,,212-555-0101,,,,,,\n"), tmp_path)


def test_contacts_are_stored_with_strings_zones_variant_and_original(
    session: Session, demo_campaign: CampaignConfig, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "one.csv",
        HEADER + "Zoë,Lee,(907) 555-0150,z@example.com,2026-03-02,,=Main,007,\n"
        "Ann,Ray,212-555-0199,a@example.com,2026-03-03,09:30,North,,America/Denver\n",
    )
    summary = ingest(session, demo_campaign, path, tmp_path / "out")
    assert summary.accepted == 2
    alaska, denver = session.exec(select(Contact).order_by(col(Contact.row_number))).all()
    assert (alaska.phone_e164, alaska.row_number, alaska.country) == ("+19075550150", 2, "US")
    assert alaska.timezones == ["America/Adak", "America/Anchorage"]
    assert alaska.number_type == "fixed_line_or_mobile"
    assert alaska.external_id == "007"
    # Retell dynamic variables are strings; an empty cell stays "".
    assert alaska.dynamic_variables == {
        "first_name": "Zoë",
        "appointment_date": "2026-03-02",
        "appointment_time": "",
        "clinic": "=Main",  # kept as data in the store; neutralised only in files written
    }
    assert alaska.extra_metadata == {"Customer ID": "007"}
    assert alaska.original["Phone"] == "(907) 555-0150"
    assert set(alaska.original) == set(HEADER.strip().split(","))
    assert alaska.status == "pending"
    variants = [(variant.name, variant.weight) for variant in demo_campaign.agent_variants()]
    assert alaska.variant == assign_variant("demo", "+19075550150", variants)
    # An explicit time zone replaces the one derived from the number; no id -> None.
    assert (denver.timezones, denver.external_id) == (["America/Denver"], None)


def test_rejected_file_and_summary_file(
    session: Session, demo_campaign: CampaignConfig, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "Spring List.csv",
        HEADER + '"=HYPERLINK(""http://x"")",Lee,,z@example.com,,,Main,1,\n'
        "Ann,Ray,+1 212 555 0199,a@example.com,,,North,-12.5,\n"
        "Ann,Ray,212.555.0199,a@example.com,,,@North,2,\n",
    )
    summary = ingest(session, demo_campaign, path, tmp_path / "out")
    stem = f"Spring List-{summary.sha256[:8]}"
    assert summary.rejected_file == str(tmp_path / "out" / f"{stem}.rejected.csv")
    with Path(summary.rejected_file).open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [*HEADER.strip().split(","), "row_number", "reason", "detail"]
    assert rows[1][0] == '\'=HYPERLINK("http://x")'
    assert rows[1][-3:] == ["2", "missing_number", "the phone cell is empty"]
    assert rows[2][2] == "212.555.0199"
    assert rows[2][6] == "'@North"
    assert rows[2][-3:] == ["4", "duplicate_in_file", "same number as row 3"]
    assert len(rows) == 3
    assert summary.summary_file is not None
    written = json.loads(Path(summary.summary_file).read_text(encoding="utf-8"))
    assert IngestSummary.model_validate(written) == summary


def test_reingesting_the_same_bytes_under_any_name_is_a_noop(
    session: Session, demo_campaign: CampaignConfig, tmp_path: Path
) -> None:
    first = ingest(session, demo_campaign, SAMPLE_DATA / "contacts.csv", tmp_path / "out")
    copy = tmp_path / "renamed.csv"
    copy.write_bytes((SAMPLE_DATA / "contacts.csv").read_bytes())
    again = ingest(session, demo_campaign, copy, tmp_path / "out2")
    assert again.already_ingested
    assert (again.rows_read, again.accepted, again.rejected) == (0, 0, {})
    assert again.first_ingested_as == str(SAMPLE_DATA / "contacts.csv")
    assert again.first_ingested_at == first_source(session).created_at
    assert not (tmp_path / "out2").exists()
    assert session.exec(select(func.count()).select_from(Contact)).one() == first.accepted


def first_source(session: Session) -> SourceFile:
    return session.exec(select(SourceFile).order_by(col(SourceFile.id))).first() or pytest.fail(
        "no source file stored"
    )


def test_appending_a_file_adds_only_new_contacts(
    session: Session, demo_campaign: CampaignConfig, tmp_path: Path
) -> None:
    ingest_one_contact(session, demo_campaign, tmp_path)
    appended = ingest(
        session,
        demo_campaign,
        write(tmp_path / "b.csv", HEADER + "A,,+1 212 555 0101,,,,,,\nB,,212-555-0102,,,,,,\n"),
        tmp_path,
    )
    assert (appended.accepted, appended.rejected) == (1, {"duplicate_in_campaign": 1})
    numbers = session.exec(select(Contact.phone_e164).order_by(col(Contact.id))).all()
    assert numbers == ["+12125550101", "+12125550102"]


def test_a_missing_column_fails_before_anything_is_written(
    session: Session, demo_campaign: CampaignConfig, tmp_path: Path
) -> None:
    path = write(tmp_path / "c.csv", "First Name,Mobile\nAnn,212-555-0101\n")
    with pytest.raises(ContactFileError) as error:
        ingest_contacts_file(
            session=session, config=demo_campaign, path=path, out_dir=tmp_path / "out"
        )
    assert str(error.value) == (
        "c.csv: columns 'Phone', 'Time Zone', 'Customer ID', 'Appointment Date', "
        "'Appointment Time', 'Clinic' not found; the file has 'First Name', 'Mobile'"
    )
    assert gc.isenabled()
    session.rollback()
    assert session.exec(select(func.count()).select_from(Campaign)).one() == 0
    assert not (tmp_path / "out").exists()


_PROBED: dict[str, tuple[Any, str]] = {
    "contacts.numbers": (store.contacts, "numbers"),
    "suppression.entries": (store.suppression, "entries"),
    "string_column": (ingest_module, "string_column"),
    "assign_variants": (ingest_module, "assign_variants"),
}


def test_an_import_reads_the_store_and_builds_its_columns_before_it_takes_the_write_lock(
    session: Session,
    demo_campaign: CampaignConfig,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # On SQLite the first write holds the store until the commit, and dialing runs wait for it.
    ingest_one_contact(session, demo_campaign, tmp_path)
    store_file = database_url.removeprefix("sqlite:///")
    writable_during: list[str] = []

    def probing(name: str) -> None:
        module, attribute = _PROBED[name]
        real = getattr(module, attribute)

        def probe(*args: Any, **kwargs: Any) -> Any:
            other = sqlite3.connect(store_file, timeout=0)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.rollback()
                writable_during.append(name)
            except sqlite3.OperationalError:
                pass
            finally:
                other.close()
            return real(*args, **kwargs)

        monkeypatch.setattr(module, attribute, probe)

    steps = ["contacts.numbers", "suppression.entries", "string_column", "assign_variants"]
    for name in steps:
        probing(name)
    path = write(tmp_path / "b.csv", HEADER + "A,,212-555-0101,,,,,,\nB,,212-555-0102,,,,,,\n")
    summary = ingest_contacts_file(
        session=session, config=demo_campaign, path=path, out_dir=tmp_path
    )

    assert summary.accepted == 1
    assert list(dict.fromkeys(writable_during)) == steps


def test_a_concurrent_import_of_the_same_numbers_rolls_back(
    session: Session,
    demo_campaign: CampaignConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingest_one_contact(session, demo_campaign, tmp_path)
    # Pretend the campaign check ran before another import inserted the same number.
    monkeypatch.setattr(store.contacts, "existing_numbers", lambda **_: set())
    monkeypatch.setattr(store.contacts, "numbers", lambda **_: set())
    path = write(tmp_path / "b.csv", HEADER + "A,,212-555-0101,,,,,,\nB,,212-555-0102,,,,,,\n")
    with pytest.raises(IngestConflict, match="run the import again"):
        ingest_contacts_file(session=session, config=demo_campaign, path=path, out_dir=tmp_path)
    session.rollback()
    assert session.exec(select(func.count()).select_from(SourceFile)).one() == 1
    assert session.exec(select(func.count()).select_from(Contact)).one() == 1
    # The rejected-rows file is written while the store inserts; a failed import removes it.
    assert not list(tmp_path.glob("b-*"))


def import_and_commit(
    engine: Engine, config: CampaignConfig, path: Path, out_dir: Path
) -> IngestSummary:
    """An import as the command line and the inbox make it: in `store.transaction`."""
    with store.transaction(engine) as session:
        return ingest_contacts_file(session=session, config=config, path=path, out_dir=out_dir)


def test_an_import_whose_commit_fails_leaves_no_summary_of_accepted_rows(
    engine: Engine, demo_campaign: CampaignConfig, tmp_path: Path
) -> None:
    path = write(tmp_path / "b.csv", HEADER + "A,,212-555-0101,,,,,,\nB,,not a number,,,,,,\n")
    out_dir = tmp_path / "out"

    def fail_the_commit(_connection: Connection) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    # The store fails as it commits the import (a full disk, say): nothing was imported.
    event.listen(engine, "commit", fail_the_commit)
    with pytest.raises(sqlite3.OperationalError):
        import_and_commit(engine, demo_campaign, path, out_dir)
    event.remove(engine, "commit", fail_the_commit)

    assert list(out_dir.iterdir()) == []
    with store.transaction(engine) as session:
        assert session.exec(select(func.count()).select_from(Contact)).one() == 0
    again = import_and_commit(engine, demo_campaign, path, out_dir)
    assert (again.accepted, again.rejected, again.already_ingested) == (
        1,
        {"unparseable": 1},
        False,
    )
    assert sorted(file.name for file in out_dir.iterdir()) == [
        f"b-{again.sha256[:8]}.rejected.csv",
        f"b-{again.sha256[:8]}.summary.json",
    ]
