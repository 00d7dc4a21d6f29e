"""The report says where the campaign stands, and marks A/B verdicts provisional until no contact
is left to call: in summary.json, report.html and report.xlsx."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigner.campaign import parse_campaign
from campaigner.reports import ExportedReport, ReportFormat, export_report
from campaigner.reports.headline import Headline
from campaigner.reports.standing import retries_in_words, window_in_words
from campaigner.store import CampaignStatus, campaigns
from tests.reports.test_ab import build_campaign

# Enough dialed contacts per variant for a verdict (docs/reports.md: the worked example).
ARMS = {"A": (40, 30, 20), "B": (40, 20, 8)}
FORMATS = [ReportFormat.JSON, ReportFormat.HTML, ReportFormat.XLSX]
NEXT_DUE = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def midway(engine: Engine, tmp_path: Path) -> ExportedReport:
    """Paused with 70 contacts done, 5 not called yet, 4 waiting for a retry, 1 in a call; the
    seventh contact is the next due."""
    build_campaign(engine, ARMS)
    with engine.begin() as connection:
        # Done contacts keep the earliest time: only waiting ones may say when the next is due.
        connection.execute(
            sa.text("UPDATE contact SET status = 'done', next_attempt_at = :long_ago"),
            {"long_ago": NEXT_DUE - timedelta(days=30)},
        )
        ids = connection.execute(sa.text("SELECT id FROM contact ORDER BY id")).scalars().all()
        for status, chosen in (
            ("pending", ids[:5]),
            ("waiting_retry", ids[5:9]),
            ("dialing", ids[9:10]),
        ):
            connection.execute(
                sa.text("UPDATE contact SET status = :status WHERE id = :id"),
                [{"status": status, "id": contact_id} for contact_id in chosen],
            )
        connection.execute(
            sa.text("UPDATE contact SET next_attempt_at = :due WHERE id = :id"),
            [
                {"due": NEXT_DUE + timedelta(hours=0 if n == 6 else 1), "id": ids[n]}
                for n in range(9)
            ],
        )
    with Session(engine) as session:
        campaigns.set_status(
            session=session, name="ab", status=CampaignStatus.PAUSED, reason="budget reached"
        )
        session.commit()
    return export_report(engine, "ab", tmp_path / "midway", FORMATS)


def finished(engine: Engine, tmp_path: Path) -> ExportedReport:
    build_campaign(engine, ARMS)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE contact SET status = 'done'"))
    with Session(engine) as session:
        campaigns.set_status(
            session=session, name="ab", status=CampaignStatus.COMPLETED, reason=None
        )
        session.commit()
    return export_report(engine, "ab", tmp_path / "finished", FORMATS)


def summary(report: ExportedReport) -> Headline:
    return Headline.model_validate_json((report.directory / "summary.json").read_text())


def test_summary_json_says_where_a_campaign_midway_stands(engine: Engine, tmp_path: Path) -> None:
    figures = summary(midway(engine, tmp_path))
    standing = figures.standing
    assert (standing.status, standing.status_reason) == (CampaignStatus.PAUSED, "budget reached")
    assert (standing.pending, standing.waiting_retry, standing.in_call) == (5, 4, 1)
    assert standing.next_due_at == NEXT_DUE
    assert not standing.final
    comparisons = figures.ab_test.comparisons
    assert [comparison.enough_data for comparison in comparisons] == [True, True]
    assert all(comparison.provisional for comparison in comparisons)


def test_summary_json_of_a_finished_campaign_is_final(engine: Engine, tmp_path: Path) -> None:
    figures = summary(finished(engine, tmp_path))
    standing = figures.standing
    assert (standing.status, standing.status_reason) == (CampaignStatus.COMPLETED, None)
    assert (standing.pending, standing.waiting_retry, standing.in_call) == (0, 0, 0)
    assert standing.next_due_at is None
    assert standing.final
    assert not any(comparison.provisional for comparison in figures.ab_test.comparisons)


def test_html_shows_the_status_block_and_provisional_verdicts_midway(
    engine: Engine, tmp_path: Path
) -> None:
    html = (midway(engine, tmp_path).directory / "report.html").read_text()
    assert "Status: <strong>paused</strong> (budget reached)." in html
    assert "these figures are <strong>provisional</strong>" in html
    assert "<tr><th>Not called yet</th><td>5</td></tr>" in html
    assert "<tr><th>Waiting for a retry</th><td>4</td></tr>" in html
    assert "<tr><th>In a call</th><td>1</td></tr>" in html
    # Both verdicts (connect and success rate) carry the marker.
    assert html.count('<span class="provisional">(provisional') == 2


def test_html_of_a_finished_campaign_has_no_provisional_marker(
    engine: Engine, tmp_path: Path
) -> None:
    page = (finished(engine, tmp_path).directory / "report.html").read_text()
    html = page.split("</style>", 1)[1]  # the style sheet names the marker's class
    assert "Status: <strong>completed</strong>." in html
    assert "No contact is left to call: these figures are final." in html
    assert "provisional" not in html
    assert "<tr><th>Next due</th><td>none waiting</td></tr>" in html


@pytest.mark.parametrize(("build", "provisional"), [(midway, True), (finished, False)])
def test_xlsx_marks_verdicts_and_says_where_the_campaign_stands(
    engine: Engine,
    tmp_path: Path,
    build: Callable[[Engine, Path], ExportedReport],
    provisional: bool,
) -> None:
    report = build(engine, tmp_path)
    workbook = openpyxl.load_workbook(report.directory / "report.xlsx")
    tests = list(workbook["A-B tests"].values)
    column = tests[0].index("provisional")
    assert [row[column] for row in tests[1:]] == [provisional, provisional]
    labels = {row[0]: row[1] for row in workbook["Summary"].values}
    assert labels["Standing: final"] is (not provisional)


def test_settings_in_words() -> None:
    config = parse_campaign(
        """
name: words
agent: {agent_id: agent_x}
from_numbers: ["+14155550100"]
columns: {phone: phone}
window: {days: [mon, wed], start: "09:30", end: "17:00", holiday_calendar: US,
         holidays: [2026-12-24]}
retry:
  voicemail: {delay: 1d, max_attempts: 1}
  no_answer: {delay: 3h, max_attempts: 2}
  declined: {retry: false}
caps: {max_attempts_per_contact: 4}
"""
    )
    assert window_in_words(config.window) == (
        "mon, wed, 09:30-17:00 in each recipient's time zone; not on US public holidays, 2026-12-24"
    )
    rules = retries_in_words(config)
    assert rules[0] == "at most 4 attempts per contact"
    one_voicemail = "not retried (max_attempts 1: the first attempt that ends so is the last)"
    assert f"voicemail: {one_voicemail}" in rules
    assert "no_answer: again after 3h, until 2 attempts ended so" in rules
    assert "declined: not retried" in rules
    assert "capacity: again after 1m (not counted as an attempt)" in rules
