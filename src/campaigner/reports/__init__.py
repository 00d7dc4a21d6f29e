"""Reports people read: CSV / XLSX / Parquet exports, a self-contained HTML report, summary.json.

    report = export_report(engine, "spring-recall", default_report_dir("spring-recall"),
                           formats=[ReportFormat.CSV, ReportFormat.HTML])

docs/reports.md documents every file, column and chart.
"""

from __future__ import annotations

from campaigner.reports.errors import ReportError, UnknownCampaign
from campaigner.reports.export import (
    ExportedReport,
    FormatFailure,
    ReportFormat,
    default_report_dir,
    export_report,
)

__all__ = [
    "ExportedReport",
    "FormatFailure",
    "ReportError",
    "ReportFormat",
    "UnknownCampaign",
    "default_report_dir",
    "export_report",
]
