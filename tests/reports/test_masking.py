"""Masked phone numbers keep their last four digits and never look like a formula."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from campaigner.campaign import parse_campaign
from campaigner.contacts import ingest_contacts_file
from campaigner.reports import export_report
from campaigner.reports.masking import mask_phone_numbers
from campaigner.store import make_engine, transaction, upgrade_database
from tests.reports.conftest import CAMPAIGN_YAML


def test_all_but_the_last_four_digits_are_hidden() -> None:
    masked = mask_phone_numbers(
        pd.Series(["+14155550123", "(415) 555-0123", "+44 20 7946 0958", None, "12"])
    )
    assert masked.tolist()[:3] == ["xxxxxxx0123", "(xxx) xxx-0123", "xx xx xxxx 0958"]
    assert pd.isna(masked.iloc[3])
    assert masked.iloc[4] == "12"


def test_every_listed_phone_column_of_the_input_is_masked(tmp_path: Path) -> None:
    yaml = CAMPAIGN_YAML.format(name="listed", mask="true").replace(
        "phone: Phone", "phone: [Mobile, Phone]"
    )
    config = parse_campaign(yaml)
    contacts_file = tmp_path / "contacts.csv"
    contacts_file.write_text(
        "Mobile,Phone,Customer ID,First Name\n"
        ",+12125550101,c1,Ann\n"
        "+12125550102,+12125550103,c2,Bob\n"
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade_database(engine)
    with transaction(engine) as session:
        ingest_contacts_file(session=session, config=config, path=contacts_file, out_dir=tmp_path)

    exported = export_report(engine, "listed", tmp_path / "out")
    engine.dispose()

    contacts = pd.read_csv(exported.directory / "contacts.csv", dtype=str, keep_default_na=False)
    shown = " ".join(contacts["Mobile"].tolist() + contacts["Phone"].tolist())
    assert not [line for line in ("5550101", "5550102", "5550103") if line in shown]
    assert "xxxxxxx0103" in shown
