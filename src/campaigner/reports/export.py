"""`export_report`: every file of a campaign's report, written to one directory.

    report = export_report(engine, "spring-recall", Path("reports/spring-recall"))
    report.files       # [.../contacts.csv, .../attempts.csv, .../rejected.csv, ...]
    report.headline    # the figures of summary.json

Which files each format writes:

- `csv`: contacts.csv, attempts.csv, rejected.csv
- `xlsx`: report.xlsx (Summary, Contacts, Attempts, Rejected sheets)
- `parquet`: attempts.parquet
- `html`: report.html (self-contained: styles and SVG charts inline)
- `json`: summary.json
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import Engine

from campaigner.reports.excel import write_workbook
from campaigner.reports.figures import headline
from campaigner.reports.files import write_csv, write_json, write_parquet
from campaigner.reports.frames import CampaignData, load_campaign_data
from campaigner.reports.html import render_report
from campaigner.reports.tables import attempts_table, contacts_table, rejected_table

__all__ = ["ExportedReport", "ReportFormat", "export_report"]


class ReportFormat(StrEnum):
    """The kinds of file a report can be written as."""

    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"
    HTML = "html"
    JSON = "json"


class ExportedReport(BaseModel):
    """What `export_report` wrote."""

    directory: Path
    files: list[Path]
    """Every file written, in the order of the formats."""
    headline: dict[str, Any]
    """The figures of summary.json (also returned when JSON was not asked for)."""


Writer = Callable[[CampaignData, dict[str, Any], Path], list[Path]]


def export_report(
    engine: Engine,
    campaign_name: str,
    out_dir: Path,
    formats: Collection[ReportFormat] = tuple(ReportFormat),
) -> ExportedReport:
    """Write the report of a campaign in the given formats into `out_dir` (created if needed).

    Raises `UnknownCampaign` (a `ReportError` and a `campaigner.store.CampaignNotFound`) when the
    store has no campaign of that name.
    """
    data = load_campaign_data(engine, campaign_name)
    figures = headline(data)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for report_format in ReportFormat:
        if report_format in formats:
            files += _WRITERS[report_format](data, figures, out_dir)
    return ExportedReport(directory=out_dir, files=files, headline=figures)


def _csv_files(data: CampaignData, _figures: dict[str, Any], out_dir: Path) -> list[Path]:
    return [
        write_csv(contacts_table(data), out_dir / "contacts.csv"),
        write_csv(attempts_table(data), out_dir / "attempts.csv"),
        write_csv(rejected_table(data), out_dir / "rejected.csv"),
    ]


def _xlsx_files(data: CampaignData, figures: dict[str, Any], out_dir: Path) -> list[Path]:
    tables = {
        "Contacts": contacts_table(data),
        "Attempts": attempts_table(data),
        "Rejected": rejected_table(data),
    }
    return [write_workbook(out_dir / "report.xlsx", tables, figures)]


def _parquet_files(data: CampaignData, _figures: dict[str, Any], out_dir: Path) -> list[Path]:
    return [write_parquet(attempts_table(data), out_dir / "attempts.parquet")]


def _html_files(data: CampaignData, figures: dict[str, Any], out_dir: Path) -> list[Path]:
    path = out_dir / "report.html"
    path.write_text(render_report(data, figures), encoding="utf-8")
    return [path]


def _json_files(_data: CampaignData, figures: dict[str, Any], out_dir: Path) -> list[Path]:
    return [write_json(figures, out_dir / "summary.json")]


_WRITERS: dict[ReportFormat, Writer] = {
    ReportFormat.CSV: _csv_files,
    ReportFormat.XLSX: _xlsx_files,
    ReportFormat.PARQUET: _parquet_files,
    ReportFormat.HTML: _html_files,
    ReportFormat.JSON: _json_files,
}
