"""Result groups come from the table of outcomes, and an outcome no table knows is an error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from campaigner.outcomes import OUTCOMES
from campaigner.reports import ReportError, ReportFormat, export_report
from campaigner.reports.figures import headline, result_group
from campaigner.reports.frames import load_campaign_data
from campaigner.store import CallAttempt
from tests.reports.test_ab import build_campaign


def test_every_outcome_is_counted_in_its_tables_group() -> None:
    outcomes = pd.Series([outcome.value for outcome in OUTCOMES], dtype="string")
    groups = result_group(outcomes).tolist()
    assert groups == [traits.group.value for traits in OUTCOMES.values()]


def test_a_missing_outcome_is_a_call_in_progress() -> None:
    groups = result_group(pd.Series(["busy", pd.NA, "not_dialed"], dtype="string"))
    assert groups.tolist() == ["busy", "in_progress", "not_dialed"]


def test_an_outcome_without_a_group_is_an_error() -> None:
    with pytest.raises(ReportError, match="no report group for the result mystery"):
        result_group(pd.Series(["busy", "mystery", pd.NA], dtype="string"))


@pytest.mark.parametrize("table", ["call_attempt", "contact"])
def test_a_report_of_an_outcome_campaigner_does_not_know_fails(
    engine: Engine, tmp_path: Path, table: str
) -> None:
    build_campaign(engine, {"A": (3, 2, 1)})
    column = "outcome_class" if table == "call_attempt" else "final_outcome"
    with engine.begin() as connection:
        first = connection.execute(sa.text(f"SELECT min(id) FROM {table}")).scalar_one()  # noqa: S608
        connection.execute(
            sa.text(f"UPDATE {table} SET {column} = 'mystery' WHERE id = :id"),  # noqa: S608
            {"id": first},
        )
    with pytest.raises(ReportError, match="mystery, which is not an outcome class"):
        export_report(engine, "ab", tmp_path / "out", [ReportFormat.CSV])
    assert not (tmp_path / "out").exists()


def test_calls_are_counted_by_the_hour_campaigner_placed_them(engine: Engine) -> None:
    """The simulator speeds up Retell's clock: its start times say nothing of the recipient's hour.
    The hour is that of `sent_at` (else `created_at`) in the contact's zone (New York, EST)."""
    build_campaign(engine, {"A": (2, 1, 1)})
    sent = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)  # 09:00 in New York
    with Session(engine) as session:
        first, second = session.exec(select(CallAttempt).order_by(col(CallAttempt.id))).all()
        first.created_at, first.sent_at = sent - timedelta(minutes=1), sent
        first.start_timestamp = datetime(2026, 1, 16, 3, 0, tzinfo=UTC)  # 22:00 in New York
        second.created_at = datetime(2026, 1, 15, 16, 30, tzinfo=UTC)  # 11:30; no sent_at recorded
        second.start_timestamp = None
        session.add_all([first, second])
        session.commit()
    figures = headline(load_campaign_data(engine, "ab"))
    assert [(row.hour, row.calls) for row in figures.by_local_hour] == [(9, 1), (11, 1)]
