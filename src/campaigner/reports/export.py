"""`export_report`: every file of a campaign's report, written to one directory.

    report = export_report(engine, "spring-recall", default_report_dir("spring-recall"))
    report.files       # [.../contacts.csv, .../attempts.csv, .../rejected.csv, ...]
    report.headline    # the figures of summary.json

Which files each format writes:

- `csv`: contacts.csv, attempts.csv, rejected.csv, and transcripts.csv when the campaign fetches
  transcripts (`fetch_transcripts: true`)
- `xlsx`: report.xlsx (Summary, Contacts, Attempts, Rejected sheets)
- `parquet`: attempts.parquet
- `html`: report.html (self-contained: styles and SVG charts inline)
- `json`: summary.json

A format that fails (a full disk, a writer's error) is reported in `ExportedReport.failures` and
leaves that format's previous files as they were; the other formats are still written.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from campaigner.csvsafe import neutralise_frame
from campaigner.reports.errors import ReportError
from campaigner.reports.excel import write_workbook
from campaigner.reports.figures import headline
from campaigner.reports.files import write_csv, write_json, write_parquet
from campaigner.reports.frames import CampaignData, load_campaign_data
from campaigner.reports.headline import Headline
from campaigner.reports.html import render_report
from campaigner.reports.staging import move_into_place, refuse_symlinks, staging_folder
from campaigner.reports.tables import (
    attempts_table,
    contacts_table,
    rejected_table,
    transcripts_table,
)
from campaigner.store import Engine

__all__ = [
    "REPORTS_ROOT",
    "ExportedReport",
    "FormatFailure",
    "ReportFormat",
    "default_report_dir",
    "export_report",
]

REPORTS_ROOT = Path("out")
"""The folder, under the working directory, of every campaign's files: `campaigner ingest` puts an
import's rejected rows in `out/<campaign>/imports/`, and reports go beside them."""


def default_report_dir(campaign_name: str, root: Path = REPORTS_ROOT) -> Path:
    """Where a campaign's report goes unless told otherwise, for `campaigner report`, the
    `export-report` flow and the demo alike: `out/<campaign>/reports/`."""
    return root / campaign_name / "reports"


class ReportFormat(StrEnum):
    """The kinds of file a report can be written as."""

    CSV = "csv"
    XLSX = "xlsx"
    PARQUET = "parquet"
    HTML = "html"
    JSON = "json"


class FormatFailure(BaseModel):
    """A format whose files were not written, and why; the previous report's files of that
    format, if any, are left as they were."""

    format: ReportFormat
    reason: str

    def __str__(self) -> str:
        return f"{self.format}: not written: {self.reason}"


class ExportedReport(BaseModel):
    """What `export_report` wrote."""

    directory: Path
    files: list[Path]
    """Every file written, in the order of the formats."""
    failures: list[FormatFailure]
    """The formats asked for that failed (their files were not written), in the same order."""
    headline: Headline
    """The figures of summary.json (also returned when JSON was not asked for)."""


@dataclass
class _Report:
    """A campaign's data and figures, and each exported table built once, when first needed."""

    data: CampaignData
    figures: Headline

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

    Each format's files are written into a staging folder and moved into `out_dir` only once all
    of them are complete (`campaigner.reports.staging`); a format that fails is listed in
    `failures` and does not keep the others from being written.

    Raises `UnknownCampaign` (a `ReportError` and a `campaigner.store.CampaignNotFound`) when the
    store has no campaign of that name, and `ReportError` when `out_dir` or a file of the report
    in it is a symbolic link; nothing is written then.
    """
    data = load_campaign_data(engine, campaign_name)
    report = _Report(data, headline(data))
    asked = [report_format for report_format in ReportFormat if report_format in formats]
    refuse_symlinks(out_dir, [name for each in asked for name in _files(report, each)])
    staged: list[Path] = []
    failures: list[FormatFailure] = []
    with staging_folder(out_dir) as staging:
        for report_format in asked:
            try:
                staged += _write_format(report, report_format, staging)
            # Whatever one format's writer raises, the other formats are still written.
            except Exception as error:
                failures.append(FormatFailure(format=report_format, reason=_reason(error)))
        files = move_into_place(staged, out_dir)
    return ExportedReport(
        directory=out_dir, files=files, failures=failures, headline=report.figures
    )


def _write_format(report: _Report, report_format: ReportFormat, folder: Path) -> list[Path]:
    """Write every file of one format into `folder`; returns their paths."""
    paths = []
    for name, write in _files(report, report_format).items():
        write(report, folder / name)
        paths.append(folder / name)
    return paths


def _reason(error: Exception) -> str:
    """What went wrong, in one line: a file system error's own words, our errors' messages, and
    anything else with its type, since it is likely a bug."""
    if isinstance(error, OSError):
        return error.strerror or str(error)
    if isinstance(error, ReportError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _workbook(report: _Report, path: Path) -> None:
    tables = {"Contacts": report.contacts, "Attempts": report.attempts, "Rejected": report.rejected}
    write_workbook(path, tables, report.figures)


def _html(report: _Report, path: Path) -> None:
    path.write_text(render_report(report.data, report.figures), encoding="utf-8")


_Writer = Callable[[_Report, Path], object]
_TRANSCRIPTS = "transcripts.csv"

_FILES: dict[ReportFormat, dict[str, _Writer]] = {
    ReportFormat.CSV: {
        "contacts.csv": lambda report, path: write_csv(neutralise_frame(report.contacts), path),
        "attempts.csv": lambda report, path: write_csv(neutralise_frame(report.attempts), path),
        "rejected.csv": lambda report, path: write_csv(neutralise_frame(report.rejected), path),
        _TRANSCRIPTS: lambda report, path: write_csv(
            neutralise_frame(transcripts_table(report.data)), path
        ),
    },
    ReportFormat.XLSX: {"report.xlsx": _workbook},
    ReportFormat.PARQUET: {
        "attempts.parquet": lambda report, path: write_parquet(
            neutralise_frame(report.attempts), path
        )
    },
    ReportFormat.HTML: {"report.html": _html},
    ReportFormat.JSON: {"summary.json": lambda report, path: write_json(report.figures, path)},
}
"""Each format's files, by name, and the function that writes each. A CSV or Parquet cell is only
text, which a spreadsheet opening the file may run as a formula: those get the leading quote of
`campaigner.csvsafe`. The workbook writes its text as text cells, which Excel never runs, so they
keep their text as it is (`campaigner.reports.excel`)."""


def _files(report: _Report, report_format: ReportFormat) -> dict[str, _Writer]:
    """The files of one format for this report: transcripts only when the campaign fetches them
    (they are long and personal: a campaign that asks for them says it wants them)."""
    files = _FILES[report_format]
    if report.data.transcripts is None:
        return {name: write for name, write in files.items() if name != _TRANSCRIPTS}
    return files
