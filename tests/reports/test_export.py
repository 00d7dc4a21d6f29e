"""The report of a campaign run on the simulator, checked file by file against the store."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook
from sqlmodel import Session, select

from campaigner.reports import ExportedReport, ReportError, ReportFormat, export_report
from campaigner.reports.headline import Headline
from campaigner.store import CallAttempt, CampaignNotFound, Contact, RejectedRow
from tests.reports.conftest import (
    ANALYSIS_FIELDS,
    CONTACTS,
    FORCED_NUMBER,
    FORMULA,
    REPORT_FILES,
    RunCampaign,
    run_campaign,
)


@pytest.fixture(scope="module")
def report(campaign: RunCampaign, tmp_path_factory: pytest.TempPathFactory) -> ExportedReport:
    return export_report(campaign.engine, "report", tmp_path_factory.mktemp("report"))


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def store_rows(campaign: RunCampaign) -> tuple[list[Contact], list[CallAttempt], list[RejectedRow]]:
    with Session(campaign.engine) as session:
        return (
            list(session.exec(select(Contact))),
            list(session.exec(select(CallAttempt))),
            list(session.exec(select(RejectedRow))),
        )


def test_every_format_writes_its_files(report: ExportedReport) -> None:
    names = [path.name for path in report.files]
    assert names == list(REPORT_FILES)
    assert all(path.parent == report.directory and path.stat().st_size > 0 for path in report.files)


def test_rows_add_up_to_the_input_rows(report: ExportedReport, campaign: RunCampaign) -> None:
    contacts, attempts, rejected = store_rows(campaign)
    exported_contacts = read_csv(report.directory / "contacts.csv")
    exported_rejected = read_csv(report.directory / "rejected.csv")
    assert len(exported_contacts) == len(contacts) == CONTACTS
    assert len(exported_rejected) == len(rejected) == 3
    assert len(exported_contacts) + len(exported_rejected) == campaign.input_rows
    assert len(read_csv(report.directory / "attempts.csv")) == len(attempts)
    assert len(pd.read_parquet(report.directory / "attempts.parquet")) == len(attempts)
    summary_json = (report.directory / "summary.json").read_text()
    assert Headline.model_validate_json(summary_json) == report.headline
    summary = json.loads(summary_json)
    assert summary["input_rows"] == campaign.input_rows
    assert sum(summary["results"].values()) == CONTACTS
    assert summary["rejected_by_reason"] == {
        "unparseable": 1,
        "duplicate_in_file": 1,
        "suppressed": 1,
    }


def test_contact_rows_match_the_store(report: ExportedReport, campaign: RunCampaign) -> None:
    contacts, attempts, _ = store_rows(campaign)
    exported = read_csv(report.directory / "contacts.csv").set_index("phone_e164")
    by_contact = Counter(attempt.contact_id for attempt in attempts)
    cost = Counter[int]()
    for attempt in attempts:
        cost[attempt.contact_id] += attempt.cost_cents or 0  # type: ignore[assignment]
    for contact in contacts:
        row = exported.loc[contact.phone_e164]
        assert row["contact_id"] == str(contact.id)
        assert row["Customer ID"] == row["external_id"] == contact.external_id
        assert row["variant"] == contact.variant
        assert row["final_outcome"] == (contact.final_outcome or "")
        assert int(row["attempts"]) == by_contact[contact.id or 0]
        assert float(row["cost_cents"]) == pytest.approx(cost[contact.id or 0])
        assert row["timezone"] == contact.timezone_key
        assert row["phone_column"] == contact.phone_column == "Phone"


def test_attempt_rows_match_the_store(report: ExportedReport, campaign: RunCampaign) -> None:
    _, attempts, _ = store_rows(campaign)
    exported = read_csv(report.directory / "attempts.csv").set_index("retell_call_id")
    placed = [attempt for attempt in attempts if attempt.retell_call_id]
    assert placed
    for attempt in placed:
        row = exported.loc[attempt.retell_call_id]
        assert row["status"] == attempt.state
        assert row["disconnection_reason"] == (attempt.disconnection_reason or "")
        assert row["recording_url"] == (attempt.recording_url or "")
        assert row["public_log_url"] == (attempt.public_log_url or "")
        if attempt.duration_ms is not None:
            assert float(row["duration_s"]) == pytest.approx(attempt.duration_ms / 1000)
        if attempt.latency_e2e_p50_ms is not None:
            assert float(row["latency_p50_ms"]) == pytest.approx(attempt.latency_e2e_p50_ms)


def test_every_custom_analysis_field_has_its_column(report: ExportedReport) -> None:
    for name in ("contacts.csv", "attempts.csv"):
        header = read_csv(report.directory / name).columns
        for field in ANALYSIS_FIELDS:
            assert f"analysis_{field}" in header, (name, field)
    parquet = pd.read_parquet(report.directory / "attempts.parquet")
    assert {f"analysis_{field}" for field in ANALYSIS_FIELDS} <= set(parquet.columns)
    contacts = read_csv(report.directory / "contacts.csv").set_index("phone_e164")
    assert contacts.loc[FORCED_NUMBER, "analysis_interest_level"] == "high"


def test_a_formula_stays_inert_in_csv(report: ExportedReport) -> None:
    contacts = read_csv(report.directory / "contacts.csv")
    assert f"'{FORMULA}" in contacts["Notes"].tolist()
    assert "'=1+2" in contacts["analysis_preferred_callback_time"].tolist()
    assert "'@Risk" in contacts.columns
    for name in ("contacts.csv", "attempts.csv", "rejected.csv"):
        table = read_csv(report.directory / name)
        cells = [cell for column in table.columns for cell in table[column]]
        assert not [cell for cell in cells if cell.startswith(("=", "@"))], name


def test_a_formula_stays_inert_in_xlsx_as_text_without_a_quote(report: ExportedReport) -> None:
    """A text cell is never run as a formula: the workbook keeps the text as it is, with no
    visible quote (the CSV needs one)."""
    workbook = openpyxl.load_workbook(report.directory / "report.xlsx")
    cells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []
    contacts = workbook["Contacts"]
    header = [cell.value for cell in contacts[1]]
    notes = [row[header.index("Notes")] for row in contacts.iter_rows(min_row=2)]
    formula = next(cell for cell in notes if cell.value == FORMULA)
    assert formula.data_type == "s"
    callback_times = [
        row[header.index("analysis_preferred_callback_time")].value
        for row in contacts.iter_rows(min_row=2)
    ]
    assert "=1+2" in callback_times
    quoted = [
        cell.coordinate
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(min_row=2)
        for cell in row
        if isinstance(cell.value, str) and cell.value.startswith("'")
    ]
    assert quoted == []
    # Headers keep the names of the other files: "@Risk" is "'@Risk" everywhere.
    assert "'@Risk" in header


def test_phone_numbers_are_text_cells_in_xlsx(report: ExportedReport) -> None:
    contacts = openpyxl.load_workbook(report.directory / "report.xlsx")["Contacts"]
    header = [cell.value for cell in contacts[1]]
    for name in ("phone_e164", "Phone"):
        cells = [row[header.index(name)] for row in contacts.iter_rows(min_row=2)]
        assert {cell.data_type for cell in cells} == {"s"}, name
        assert all(str(cell.value).startswith("+1") for cell in cells), name


def test_xlsx_data_sheets_have_filters(report: ExportedReport) -> None:
    workbook = openpyxl.load_workbook(report.directory / "report.xlsx")
    for sheet in workbook.worksheets[1:]:
        width = get_column_letter(sheet.max_column)
        assert sheet.auto_filter.ref == f"A1:{width}{sheet.max_row}", sheet.title
    assert workbook["Summary"].auto_filter.ref is None


def test_xlsx_summary_is_two_labelled_columns_with_costs_in_dollars(
    report: ExportedReport,
) -> None:
    summary = openpyxl.load_workbook(report.directory / "report.xlsx")["Summary"]
    rows = {row[0].value: row[1] for row in summary.iter_rows()}
    assert summary.max_column == 2
    assert rows["Figure"].value == "Value"
    total = rows["Cost: total ($)"]
    assert total.number_format == "$#,##0.00"
    assert total.value == pytest.approx(report.headline.cost.total_cents / 100)
    assert total.value > 0
    assert rows["Duration: total (seconds)"].number_format == "#,##0.0"
    assert rows["Funnel: contacts"].value == report.headline.funnel.contacts
    assert rows["Funnel: contacts"].number_format == "General"
    assert rows["Standing: status"].value == "active"  # a run that ends does not complete it
    assert rows["Standing: retries"].value.startswith("at most 3 attempts per contact; ")
    generated = report.headline.generated_at
    assert rows["Generated at (UTC)"].value == f"{generated:%Y-%m-%d %H:%M:%S}"


def test_workbook_has_every_sheet_with_frozen_headers_and_formats(
    report: ExportedReport, campaign: RunCampaign
) -> None:
    path = report.directory / "report.xlsx"
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == [
        "Summary",
        "Contacts",
        "Attempts",
        "Rejected",
        "A-B variants",
        "A-B tests",
        "By local hour",
        "By timezone",
    ]
    attempts = workbook["Attempts"]
    header = [cell.value for cell in attempts[1]]
    for sheet in workbook.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
    cost = attempts.cell(row=2, column=header.index("cost_cents") + 1)
    assert cost.number_format == "#,##0.00"
    created = attempts.cell(row=2, column=header.index("created_at") + 1)
    assert created.number_format == "yyyy-mm-dd hh:mm:ss"
    letter = get_column_letter(header.index("call_summary") + 1)
    assert attempts.column_dimensions[letter].width > 30  # fitted to the summaries' text
    _, stored_attempts, _ = store_rows(campaign)
    rows = CalamineWorkbook.from_path(path).get_sheet_by_name("Attempts").to_python()
    assert len(rows) - 1 == len(stored_attempts)
    summary = dict(CalamineWorkbook.from_path(path).get_sheet_by_name("Summary").to_python()[1:])
    assert summary["Input rows"] == campaign.input_rows


def test_no_api_key_in_any_file(report: ExportedReport, campaign: RunCampaign) -> None:
    for path in report.files:
        assert campaign.api_key.encode() not in path.read_bytes(), path.name


def test_only_the_formats_asked_for_are_written(campaign: RunCampaign, tmp_path: Path) -> None:
    exported = export_report(campaign.engine, "report", tmp_path / "out", [ReportFormat.JSON])
    assert [path.name for path in exported.files] == ["summary.json"]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["summary.json"]
    assert exported.headline.funnel.contacts == CONTACTS


def test_an_unknown_campaign_is_a_clear_error(campaign: RunCampaign, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no campaign named 'nope'") as raised:
        export_report(campaign.engine, "nope", tmp_path)
    assert isinstance(raised.value, CampaignNotFound)
    assert list(tmp_path.iterdir()) == []


def test_masked_numbers_in_every_export(tmp_path: Path) -> None:
    masked = run_campaign(tmp_path, mask=True, name="masked")
    exported = export_report(masked.engine, "masked", tmp_path / "out")
    masked.engine.dispose()
    contacts = read_csv(exported.directory / "contacts.csv")
    assert contacts["phone_e164"].str.fullmatch(r"x{7}\d{4}").all()
    assert contacts["Phone"].str.fullmatch(r"x{7}\d{4}").all()
    assert read_csv(exported.directory / "attempts.csv")["phone_e164"].str.startswith("x").all()
    rejected = read_csv(exported.directory / "rejected.csv").set_index("reason")
    assert rejected.loc["suppressed", "Phone"] == "xxxxxxx0199"
    for path in exported.files:
        assert FORCED_NUMBER[2:].encode() not in path.read_bytes(), path.name
    assert exported.headline.numbers_masked is True
