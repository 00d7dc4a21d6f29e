"""What the ingest helper calls: source files, bulk inserts of contacts and rejected rows, DNC."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from campaigner.store import (
    INSERT_BATCH_SIZE,
    Contact,
    ContactStatus,
    JSONText,
    RejectedRow,
    SourceFile,
    bulk,
    contacts,
    imports,
    json_text,
    suppression,
)
from campaigner.store.bulk import bulk_insert_columns
from tests.store.factories import NOW, add_contacts, contact_row, make_campaign, number

SHA = "ab" * 32


def test_a_file_is_recorded_once_per_campaign(session: Session) -> None:
    campaign = make_campaign(session)
    other = make_campaign(session, "other")
    assert campaign.id is not None
    assert other.id is not None

    source = imports.create_file(session=session, campaign_id=campaign.id, path="a.csv", sha256=SHA)
    imports.set_counts(
        session=session,
        source_file_id=source.id or 0,
        rows_read=10,
        accepted=6,
        rejected=4,
        duplicates=2,
        suppressed=1,
    )
    imports.create_file(session=session, campaign_id=other.id, path="a.csv", sha256=SHA)
    session.commit()
    session.expire_all()

    found = imports.find_file(session=session, campaign_id=campaign.id, sha256=SHA)
    assert found is not None
    assert (found.path, found.rows_read, found.accepted, found.rejected) == ("a.csv", 10, 6, 4)
    assert (found.duplicates, found.suppressed) == (2, 1)
    assert imports.find_file(session=session, campaign_id=campaign.id, sha256="cd" * 32) is None
    with pytest.raises(sa.exc.IntegrityError):
        imports.create_file(session=session, campaign_id=campaign.id, path="b.csv", sha256=SHA)


def test_contacts_are_inserted_in_batches_and_reinserting_is_a_no_op(session: Session) -> None:
    campaign = make_campaign(session)
    count = INSERT_BATCH_SIZE + 1_234

    first = add_contacts(session, campaign, count)
    again = add_contacts(session, campaign, count)
    overlapping = add_contacts(session, campaign, 10, start=count - 5)

    assert (first, again, overlapping) == (count, 0, 5)
    stored = session.exec(select(sa.func.count()).select_from(Contact)).one()
    assert stored == count + 5


def test_contact_rows_keep_every_field(session: Session) -> None:
    campaign = make_campaign(session)
    source = imports.create_file(
        session=session, campaign_id=campaign.id or 0, path="a.csv", sha256=SHA
    )
    row = contact_row(
        campaign.id or 0,
        source.id or 0,
        7,
        timezones=["America/Chicago", "America/Denver"],
        status="suppressed",
        original={"Phone": "(212) 555-0107", "Note": "=1+1", "Ünïcode": "çé"},
    )
    contacts.insert(session=session, rows=[row], now=NOW)
    session.commit()
    session.expire_all()

    contact = session.exec(select(Contact)).one()
    assert contact.phone_e164 == number(7)
    assert contact.timezones == ["America/Chicago", "America/Denver"]
    assert contact.timezone_key == "America/Chicago|America/Denver"
    assert contact.status == ContactStatus.SUPPRESSED
    assert contact.original == {"Phone": "(212) 555-0107", "Note": "=1+1", "Ünïcode": "çé"}
    assert contact.dynamic_variables == {"first_name": "Pat 7"}
    assert contact.extra_metadata == {"Customer ID": "C00007"}
    assert (contact.external_id, contact.variant, contact.country) == ("C00007", "default", "US")
    assert (contact.attempts_made, contact.next_attempt_at, contact.created_at) == (0, NOW, NOW)


def test_a_contact_row_needs_only_the_required_keys(session: Session) -> None:
    campaign = make_campaign(session)
    source = imports.create_file(
        session=session, campaign_id=campaign.id or 0, path="a.csv", sha256=SHA
    )
    row = {
        "campaign_id": campaign.id,
        "source_file_id": source.id,
        "row_number": 2,
        "phone_e164": number(0),
        "timezones": ["America/New_York"],
    }

    assert contacts.insert(session=session, rows=[row]) == 1
    session.commit()
    contact = session.exec(select(Contact)).one()
    assert (contact.dynamic_variables, contact.extra_metadata, contact.original) == ({}, {}, {})
    assert (contact.status, contact.variant, contact.country) == (ContactStatus.PENDING, None, None)


def test_contact_rows_with_missing_or_unknown_keys_are_refused(session: Session) -> None:
    campaign = make_campaign(session)
    row = contact_row(campaign.id or 0, 1, 0)
    del row["timezones"]
    row["phone"] = "+12125550100"

    with pytest.raises(ValueError, match=r"missing \['timezones'\], unknown \['phone'\]"):
        contacts.insert(session=session, rows=[row])


def test_a_bad_status_is_refused(session: Session) -> None:
    campaign = make_campaign(session)

    with pytest.raises(ValueError, match="'maybe' is not a valid ContactStatus"):
        add_contacts(session, campaign, 1, status="maybe")


def test_contacts_given_column_by_column_get_defaults_and_skip_known_numbers(
    session: Session,
) -> None:
    campaign = make_campaign(session)
    source = imports.create_file(
        session=session, campaign_id=campaign.id or 0, path="a.csv", sha256=SHA
    )
    count = INSERT_BATCH_SIZE + 3
    columns = {
        "campaign_id": [campaign.id] * count,
        "source_file_id": [source.id] * count,
        "row_number": list(range(2, count + 2)),
        "phone_e164": [number(i) for i in range(count)],
        "timezones": [("America/New_York",), ("America/Denver", "America/Chicago")] * (count // 2)
        + [("America/New_York",)],
        "original": [{"Phone": number(i)} for i in range(count)],
    }

    assert contacts.insert_columns(session=session, columns=columns, now=NOW) == count
    assert contacts.insert_columns(session=session, columns=columns, now=NOW) == 0
    session.commit()
    session.expire_all()

    second = session.exec(select(Contact).where(Contact.row_number == 3)).one()
    assert second.timezones == ["America/Denver", "America/Chicago"]
    assert second.timezone_key == "America/Chicago|America/Denver"
    assert second.original == {"Phone": number(1)}
    assert (second.dynamic_variables, second.extra_metadata) == ({}, {})
    assert (second.status, second.variant, second.external_id) == (
        ContactStatus.PENDING,
        None,
        None,
    )
    assert (second.attempts_made, second.next_attempt_at, second.created_at) == (0, NOW, NOW)


def test_contact_columns_of_unequal_length_or_unknown_names_are_refused(session: Session) -> None:
    campaign = make_campaign(session)
    columns = {
        "campaign_id": [campaign.id, campaign.id],
        "source_file_id": [1, 1],
        "row_number": [2, 3],
        "phone_e164": [number(0), number(1)],
        "timezones": [["America/New_York"]],
    }

    with pytest.raises(ValueError, match="columns of unequal length"):
        contacts.insert_columns(session=session, columns=columns)
    with pytest.raises(ValueError, match=r"missing \[\], unknown \['phone'\]"):
        contacts.insert_columns(session=session, columns={**columns, "phone": ["x", "y"]})


def test_existing_contact_numbers_looks_up_large_lists_within_one_campaign(
    session: Session,
) -> None:
    campaign = make_campaign(session)
    other = make_campaign(session, "other")
    add_contacts(session, campaign, 3_000)
    add_contacts(session, other, 10, start=5_000)
    asked = [number(i) for i in range(2_500, 5_010)]

    found = contacts.existing_numbers(session=session, campaign_id=campaign.id or 0, numbers=asked)

    assert found == {number(i) for i in range(2_500, 3_000)}


def test_campaign_numbers_and_contact_count_are_the_campaigns_own(session: Session) -> None:
    campaign = make_campaign(session)
    other = make_campaign(session, "other")
    add_contacts(session, campaign, 30)
    add_contacts(session, other, 10, start=5_000)

    found = contacts.numbers(session=session, campaign_id=campaign.id or 0)

    assert found == {number(i) for i in range(30)}
    assert contacts.numbers(session=session, campaign_id=(other.id or 0) + 1) == set()
    assert contacts.count(session=session, campaign_id=campaign.id or 0) == 30
    assert contacts.count(session=session, campaign_id=(other.id or 0) + 1) == 0


def test_rejected_rows_are_kept_once_per_file_row(session: Session) -> None:
    campaign = make_campaign(session)
    source = imports.create_file(
        session=session, campaign_id=campaign.id or 0, path="a.csv", sha256=SHA
    )
    rows = [
        {
            "campaign_id": campaign.id,
            "source_file_id": source.id,
            "row_number": n,
            "reason": "invalid_number",
            "detail": "too short",
            "raw": {"Phone": "555"},
        }
        for n in range(2, 2 + INSERT_BATCH_SIZE + 3)
    ]

    assert imports.insert_rejected(session=session, rows=rows) == len(rows)
    assert imports.insert_rejected(session=session, rows=rows[:10]) == 0
    session.commit()
    stored = session.exec(select(RejectedRow).where(RejectedRow.row_number == 2)).one()
    assert (stored.reason, stored.detail, stored.raw) == (
        "invalid_number",
        "too short",
        {"Phone": "555"},
    )


def test_rejected_rows_need_every_field(session: Session) -> None:
    with pytest.raises(ValueError, match="rejected row 2: expected keys campaign_id, detail"):
        imports.insert_rejected(session=session, rows=[{"row_number": 2, "reason": "x"}])


def test_suppression_is_idempotent_listed_and_removable(session: Session) -> None:
    campaign = make_campaign(session)
    entries = [
        (number(1), "customer asked", "dnc.csv"),
        (number(2), "user_requested_dnc", "call"),
        (number(1), "again", "dnc.csv"),
    ]

    added = suppression.add(session=session, entries=entries, campaign_id=campaign.id, now=NOW)
    added_again = suppression.add(
        session=session, entries=entries[:1], now=NOW + timedelta(minutes=1)
    )
    session.commit()

    assert (added, added_again) == (2, 0)
    assert suppression.reasons(session=session, numbers=[number(1), number(2), number(3)]) == {
        number(1): "customer asked",
        number(2): "user_requested_dnc",
    }
    listed = suppression.entries(session=session)
    assert [(s.phone_e164, s.source, s.campaign_id) for s in listed] == [
        (number(1), "dnc.csv", campaign.id),
        (number(2), "call", campaign.id),
    ]
    assert [s.phone_e164 for s in suppression.entries(session=session, limit=1, offset=1)] == [
        number(2)
    ]
    assert suppression.remove(session=session, number=number(1)) is True
    assert suppression.remove(session=session, number=number(1)) is False
    assert suppression.reasons(session=session, numbers=[number(1)]) == {}


def test_suppressed_numbers_handles_large_lists(session: Session) -> None:
    entries = [(number(i), "dnc", "list") for i in range(0, 6_000, 2)]
    suppression.add(session=session, entries=entries)

    found = suppression.reasons(session=session, numbers=[number(i) for i in range(6_000)])

    assert len(found) == 3_000


def test_source_file_counts_default_to_zero(session: Session) -> None:
    campaign = make_campaign(session)
    imports.create_file(session=session, campaign_id=campaign.id or 0, path="a.csv", sha256=SHA)
    session.commit()

    source = session.exec(select(SourceFile)).one()
    assert (source.rows_read, source.accepted, source.rejected) == (0, 0, 0)


def test_contacts_and_rejected_rows_take_json_already_encoded(session: Session) -> None:
    campaign_id, source_id = _imported_file(session)
    original = {"Phone": "(212) 555-0107", "Note": 'say "hi"\\n', "Ünïcode": "çé\n"}

    def chunk(first: int, count: int) -> dict[str, Sequence[Any]]:
        return {
            "campaign_id": [campaign_id] * count,
            "source_file_id": [source_id] * count,
            "row_number": [first + n for n in range(count)],
            "phone_e164": [number(first + n) for n in range(count)],
            "timezones": [("America/Chicago",)] * count,
            "dynamic_variables": JSONText([json_text({"n": str(first + n)}) for n in range(count)]),
            "original": JSONText([json_text(original)] * count),
        }

    chunks = [chunk(2, INSERT_BATCH_SIZE + 1), chunk(2 + INSERT_BATCH_SIZE + 1, 3)]
    assert contacts.insert_column_chunks(session=session, chunks=chunks, now=NOW) == (
        INSERT_BATCH_SIZE + 4
    )
    assert contacts.insert_column_chunks(session=session, chunks=[chunk(2, 10)], now=NOW) == 0
    inserted = imports.insert_rejected_columns(
        session=session,
        columns={
            "campaign_id": [campaign_id],
            "source_file_id": [source_id],
            "row_number": [1],
            "reason": ["missing_number"],
            "detail": ["the phone cell is empty"],
            "raw": JSONText([json_text({"Phone": "", "Note": None})]),
        },
    )
    assert inserted == 1
    session.commit()
    session.expire_all()

    last = session.exec(
        select(Contact).where(Contact.row_number == 2 + INSERT_BATCH_SIZE + 3)
    ).one()
    assert (last.original, last.dynamic_variables, last.extra_metadata) == (
        original,
        {"n": str(2 + INSERT_BATCH_SIZE + 3)},
        {},
    )
    assert (last.timezones, last.timezone_key) == (["America/Chicago"], "America/Chicago")
    rejected = session.exec(select(RejectedRow)).one()
    assert rejected.raw == {"Phone": "", "Note": None}


def test_contact_chunks_must_have_the_same_columns(session: Session) -> None:
    campaign_id, source_id = _imported_file(session)
    first = contact_row(campaign_id, source_id, 1)
    second = {
        key: value
        for key, value in contact_row(campaign_id, source_id, 2).items()
        if key != "variant"
    }

    with pytest.raises(ValueError, match="chunks with other columns"):
        contacts.insert_column_chunks(
            session=session,
            chunks=[{key: [value] for key, value in row.items()} for row in (first, second)],
        )


def test_a_bulk_insert_leaves_tables_named_like_its_staging_table_alone(session: Session) -> None:
    campaign_id, source_id = _imported_file(session)
    session.exec(sa.text("CREATE TABLE bulk_contact (kept INTEGER)"))
    session.exec(sa.text("INSERT INTO bulk_contact (kept) VALUES (1)"))
    try:
        rows = [contact_row(campaign_id, source_id, index) for index in range(3)]
        assert contacts.insert(session=session, rows=rows, now=NOW) == 3
        assert contacts.insert(session=session, rows=rows, now=NOW) == 0
        assert session.exec(sa.text("SELECT kept FROM bulk_contact")).all() == [(1,)]
    finally:
        session.rollback()


def test_a_failing_bulk_insert_raises_sqlalchemys_error_without_the_values(
    session: Session,
) -> None:
    campaign_id, source_id = _imported_file(session)
    rows = [contact_row(campaign_id, source_id, 1), contact_row(999, source_id, 2)]

    with pytest.raises(sa.exc.IntegrityError) as error:
        contacts.insert(session=session, rows=rows, now=NOW)
    assert number(2) not in str(error.value)
    session.rollback()


def test_constant_columns_of_a_bulk_insert_are_stored_as_given(session: Session) -> None:
    # Quotes, comment markers and placeholders in a constant must arrive as they are.
    campaign_id, source_id = _imported_file(session)
    detail = "it's 'quoted' -- not a comment; DROP TABLE contact; \\ ? :x"

    inserted = bulk_insert_columns(
        session,
        RejectedRow.__table__,  # type: ignore[arg-type]
        {"row_number": [2, 3]},
        constants={
            "campaign_id": campaign_id,
            "source_file_id": source_id,
            "reason": "invalid_number",
            "detail": detail,
            "raw": {"Phone": "'; --", "Note": None},
        },
        conflict=("source_file_id", "row_number"),
        batch_size=1,
    )
    session.expire_all()

    assert inserted == 2
    rows = session.exec(select(RejectedRow).order_by(RejectedRow.row_number)).all()
    assert [(row.campaign_id, row.source_file_id, row.row_number) for row in rows] == [
        (campaign_id, source_id, 2),
        (campaign_id, source_id, 3),
    ]
    assert {(row.reason, row.detail) for row in rows} == {("invalid_number", detail)}
    assert [row.raw for row in rows] == [{"Phone": "'; --", "Note": None}] * 2


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_sqlite_bulk_insert_binds_every_value_and_writes_none_into_its_statement(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign_id, source_id = _imported_file(session)
    statements: list[tuple[str, list[tuple[Any, ...]]]] = []
    execute_many = bulk._execute_many

    def recording(cursor: Any, sql: str, params: list[tuple[Any, ...]]) -> int:
        statements.append((sql, params))
        return execute_many(cursor, sql, params)

    monkeypatch.setattr(bulk, "_execute_many", recording)
    bulk_insert_columns(
        session,
        RejectedRow.__table__,  # type: ignore[arg-type]
        {"row_number": [7, 8], "detail": ["row-detail-7", "row-detail-8"]},
        constants={
            "campaign_id": campaign_id,
            "source_file_id": source_id,
            "reason": "constant-reason",
            "raw": {"Phone": "constant-raw"},
        },
        conflict=("source_file_id", "row_number"),
        batch_size=10,
    )

    ((sql, params),) = statements
    assert "constant-" not in sql
    assert sql.count("?") == 6
    assert [len(row) for row in params] == [6, 6]
    bound = {value for row in params for value in row}
    assert {"constant-reason", '{"Phone":"constant-raw"}'} <= bound


def test_a_constant_integer_wider_than_64_bits_is_refused_not_stored_as_a_real(
    session: Session,
) -> None:
    campaign_id, source_id = _imported_file(session)
    with pytest.raises((OverflowError, sa.exc.DataError, sa.exc.StatementError)):
        bulk_insert_columns(
            session,
            RejectedRow.__table__,  # type: ignore[arg-type]
            {"detail": ["a row numbered past any 64-bit integer"]},
            constants={
                "campaign_id": campaign_id,
                "source_file_id": source_id,
                "row_number": 2**63,
                "reason": "invalid_number",
                "raw": {},
            },
            conflict=("source_file_id", "row_number"),
            batch_size=1,
        )


def _imported_file(session: Session) -> tuple[int, int]:
    """A campaign and a file imported into it: (campaign id, source file id)."""
    campaign = make_campaign(session)
    source = imports.create_file(
        session=session, campaign_id=campaign.id or 0, path="a.csv", sha256=SHA
    )
    return campaign.id or 0, source.id or 0
