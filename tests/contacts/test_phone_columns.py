"""Several phone columns (`columns.phone` as a list): each row's number from the first that serves.

The file mirrors issue 20's HubSpot export: "Phone Number" often empty, "Mobile Phone Number" the
one the campaign prefers.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from campaigner.campaign import CampaignConfig, ColumnMapping, NumberRules
from campaigner.contacts.errors import ContactFileError
from campaigner.contacts.ingest import ingest_contacts_file
from campaigner.store import Contact, suppression
from tests.contacts.test_ingest import ingest, write

MOBILE, PHONE = "Mobile Phone Number", "Phone Number"
LEADS = (
    f"Email,{PHONE},{MOBILE}\n"
    "a@example.com,,212 555 0150\n"  # 2: mobile only
    "b@example.com,(212) 555-0151,\n"  # 3: phone only
    "c@example.com,,\n"  # 4: neither
    "d@example.com,212 555 0152,555 01\n"  # 5: invalid mobile, valid phone
    "e@example.com,12,call me\n"  # 6: both invalid
    "f@example.com,212 555 01,\n"  # 7: invalid phone, no mobile
    "g@example.com,212 555 0153,212 555 0154\n"  # 8: both valid: the mobile wins
    "h@example.com,+1 212-555-0150,\n"  # 9: row 2's number in the other column
    "i@example.com,,212 555 0155\n"  # 10: on the do-not-call list
    "j@example.com,212 555 0156,+44 20 7946 0123\n"  # 11: the mobile is of a country not allowed
    "k@example.com,,+44 20 7946 0124\n"  # 12: only a number of a country not allowed
)


def leads_campaign(demo_campaign: CampaignConfig, phone: str | list[str]) -> CampaignConfig:
    return demo_campaign.model_copy(
        update={
            "columns": ColumnMapping(phone=phone, metadata=["Email"]),
            "numbers": NumberRules(allowed_countries=["US"]),
        }
    )


def test_each_row_takes_the_first_column_holding_a_number_the_campaign_accepts(
    session: Session, demo_campaign: CampaignConfig, tmp_path: Path
) -> None:
    suppression.add(session=session, entries=[("+12125550155", "asked", "dnc.csv")])
    config = leads_campaign(demo_campaign, [MOBILE, PHONE])

    summary = ingest(session, config, write(tmp_path / "leads.csv", LEADS), tmp_path / "out")

    assert (summary.rows_read, summary.accepted) == (11, 5)
    assert summary.rejected == {
        "missing_number": 1,
        "unparseable": 1,
        "invalid_number": 1,
        "country_not_allowed": 1,
        "duplicate_in_file": 1,
        "suppressed": 1,
    }
    contacts = session.exec(select(Contact).order_by(col(Contact.row_number))).all()
    assert [(c.row_number, c.phone_e164, c.phone_column) for c in contacts] == [
        (2, "+12125550150", MOBILE),
        (3, "+12125550151", PHONE),
        (5, "+12125550152", PHONE),
        (8, "+12125550154", MOBILE),
        (11, "+12125550156", PHONE),
    ]
    assert summary.rejected_file is not None
    with Path(summary.rejected_file).open(encoding="utf-8-sig", newline="") as handle:
        rejected = [
            (row["row_number"], row["reason"], row["detail"]) for row in csv.DictReader(handle)
        ]
    assert rejected == [
        ("4", "missing_number", f"every phone column is empty ({MOBILE}, {PHONE})"),
        (
            "6",
            "unparseable",
            f"{MOBILE}: contains letters ('c'): write the number with digits only; "
            f"{PHONE}: too_short: +112 has too few digits for US (+1)",
        ),
        ("7", "invalid_number", f"{PHONE}: too_short: +121255501 has too few digits for US (+1)"),
        ("9", "duplicate_in_file", "same number as row 2"),
        ("10", "suppressed", "on the do-not-call list: asked"),
        ("12", "country_not_allowed", "a number of GB; the campaign allows US"),
    ]


def test_one_header_keeps_the_single_column_behaviour(
    session: Session, demo_campaign: CampaignConfig, tmp_path: Path
) -> None:
    config = leads_campaign(demo_campaign, PHONE)

    summary = ingest(session, config, write(tmp_path / "leads.csv", LEADS), tmp_path / "out")

    assert (summary.accepted, summary.rejected["missing_number"]) == (5, 4)
    assert summary.rejected_file is not None
    with Path(summary.rejected_file).open(encoding="utf-8-sig", newline="") as handle:
        first = next(csv.DictReader(handle))
    assert (first["row_number"], first["detail"]) == ("2", "the phone cell is empty")
    stored = session.exec(select(Contact.phone_column)).all()
    assert set(stored) == {PHONE}


def test_a_listed_phone_column_missing_from_the_file_is_the_missing_column_error(
    session: Session, demo_campaign: CampaignConfig, tmp_path: Path
) -> None:
    config = leads_campaign(demo_campaign, [MOBILE, "Work Phone", PHONE])
    with pytest.raises(ContactFileError) as error:
        ingest_contacts_file(
            session=session,
            config=config,
            path=write(tmp_path / "leads.csv", LEADS),
            out_dir=tmp_path / "out",
        )
    assert str(error.value) == (
        "leads.csv: column 'Work Phone' not found; "
        "the file has 'Email', 'Phone Number', 'Mobile Phone Number'"
    )
