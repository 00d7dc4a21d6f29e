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
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from campaigner.reports.excel import write_workbook
from campaigner.reports.figures import headline
from campaigner.reports.files import write_csv, write_json, write_parquet
from campaigner.reports.frames import CampaignData, load_campaign_data
from campaigner.reports.headline import Headline
from campaigner.reports.html import render_report
from campaigner.reports.tables import attempts_table, contacts_table, rejected_table
from campaigner.store import Engine

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
    headline: Headline
    """The figures of summary.json (also returned when JSON was not asked for)."""


@dataclass
class _Report:
    """A campaign's data and figures, and each exported table built once, when first needed."""

    data: CampaignData
    figures: Headline
    out_dir: Path

    @cached_property
    def contacts(self) -> pd.DataFrame:
        return contacts_table(self.data)

    @cached_property
    def attempts(self) -> pd.DataFrame:
        return attempts_table(self.data)

    @cached_property
    def rejected(self) -> pd.DataFrame:
        return rejected_table(self.data)


def export_report(
    engine: Engine,
    campaign_name: str,
    out_dir: Path,
    formats: Collection[ReportFormat] = tuple(ReportFormat),
) -> ExportedReport:
    """Write the report of a campaign in the given formats into `out_dir` (created if needed).

    Raises `UnknownCampaign` (a `ReportError` and a `campaigner.store.CampaignNotFound`) when the
    store has no campaign of that name, and `ReportError` when the campaign has more rows than
    one Excel sheet holds and XLSX is asked for.
    """
    data = load_campaign_data(engine, campaign_name)
    report = _Report(data, headline(data), out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for report_format in ReportFormat:
        if report_format in formats:
            files += _WRITERS[report_format](report)
    return ExportedReport(directory=out_dir, files=files, headline=report.figures)


def _csv_files(report: _Report) -> list[Path]:
    return [
        write_csv(report.contacts, report.out_dir / "contacts.csv"),
        write_csv(report.attempts, report.out_dir / "attempts.csv"),
        write_csv(report.rejected, report.out_dir / "rejected.csv"),
    ]


def _xlsx_files(report: _Report) -> list[Path]:
    tables = {"Contacts": report.contacts, "Attempts": report.attempts, "Rejected": report.rejected}
    return [write_workbook(report.out_dir / "report.xlsx", tables, report.figures)]


def _parquet_files(report: _Report) -> list[Path]:
    return [write_parquet(report.attempts, report.out_dir / "attempts.parquet")]


def _html_files(report: _Report) -> list[Path]:
    path = report.out_dir / "report.html"
    path.write_text(render_report(report.data, report.figures), encoding="utf-8")
    return [path]


def _json_files(report: _Report) -> list[Path]:
    return [write_json(report.figures, report.out_dir / "summary.json")]


_WRITERS: dict[ReportFormat, Callable[[_Report], list[Path]]] = {
    ReportFormat.CSV: _csv_files,
    ReportFormat.XLSX: _xlsx_files,
    ReportFormat.PARQUET: _parquet_files,
    ReportFormat.HTML: _html_files,
    ReportFormat.JSON: _json_files,
}
