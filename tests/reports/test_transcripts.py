"""transcripts.csv: one row per attempt with a transcript, written only for a campaign that fetches
them (`fetch_transcripts: true`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from campaigner.campaign import CampaignConfig
from campaigner.reports import ReportFormat, export_report
from campaigner.reports.tables import TRANSCRIPT_COLUMNS
from campaigner.store import CallAttempt, Campaign, campaigns
from tests.reports.test_ab import build_campaign

TRANSCRIPTS = ("Agent: Hello, this is the dental office.", '=HYPERLINK("http://evil")')


def with_transcripts(engine: Engine, *, fetch: bool) -> list[int]:
    """Three called contacts, two of whose calls have a transcript; returns those attempts' ids."""
    build_campaign(engine, {"A": (3, 2, 1)})
    with Session(engine) as session:
        stored = session.exec(select(Campaign)).one()
        config = CampaignConfig.model_validate({**stored.config, "fetch_transcripts": fetch})
        campaigns.upsert(session=session, config=config)
        attempts = session.exec(select(CallAttempt).order_by(col(CallAttempt.id))).all()
        for attempt, text in zip(attempts[1:], TRANSCRIPTS, strict=True):
            attempt.transcript = text
            session.add(attempt)
        session.commit()
        return [attempt.id for attempt in attempts[1:] if attempt.id is not None]


def test_a_campaign_that_fetches_transcripts_exports_them(engine: Engine, tmp_path: Path) -> None:
    ids = with_transcripts(engine, fetch=True)
    report = export_report(engine, "ab", tmp_path, [ReportFormat.CSV])
    assert tmp_path / "transcripts.csv" in report.files
    table = pd.read_csv(tmp_path / "transcripts.csv", dtype=str, encoding="utf-8-sig")
    assert tuple(table.columns) == TRANSCRIPT_COLUMNS
    assert table["attempt_id"].astype(int).tolist() == ids
    # The formula guard of every CSV: the second transcript starts like a formula.
    assert table["transcript"].tolist() == [TRANSCRIPTS[0], f"'{TRANSCRIPTS[1]}"]
    assert table["attempt_number"].tolist() == ["1", "1"]


def test_transcripts_stay_in_the_store_unless_the_campaign_fetches_them(
    engine: Engine, tmp_path: Path
) -> None:
    with_transcripts(engine, fetch=False)
    report = export_report(engine, "ab", tmp_path, [ReportFormat.CSV])
    assert sorted(path.name for path in report.files) == [
        "attempts.csv",
        "contacts.csv",
        "rejected.csv",
    ]
    assert not (tmp_path / "transcripts.csv").exists()
