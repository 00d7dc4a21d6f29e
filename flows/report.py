"""`export-report`: write a campaign's report files and link them from the run."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact

from campaigner.reports import ExportedReport, ReportFormat, export_report
from flows.resources import (
    CampaignName,
    artifact_key,
    reports_dir,
    retry_if_transient,
    store_engine,
)

__all__ = ["export_campaign_report", "export_report_flow"]


@task(
    name="write-report",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_if_transient,
)
def export_campaign_report(campaign: str, formats: tuple[ReportFormat, ...]) -> ExportedReport:
    """Write the report files into out/<campaign>/reports/ (the newest report replaces the last)."""
    with store_engine() as engine:
        return export_report(engine, campaign, reports_dir(campaign), formats=formats)


@flow(name="export-report", retries=1, retry_delay_seconds=60)
def export_report_flow(
    campaign: CampaignName, formats: tuple[ReportFormat, ...] = tuple(ReportFormat)
) -> ExportedReport:
    """Write a campaign's report: CSV, XLSX and Parquet exports, an HTML report, summary.json.

    Args:
        campaign: The campaign's name (campaigns/<name>.yaml).
        formats: Which kinds of file to write [default: all].
    """
    report = export_campaign_report(campaign, formats)
    directory = report.directory.resolve()
    main_file = next(
        (path for path in report.files if path.suffix == ".html"),
        report.files[0] if report.files else report.directory,
    ).resolve()
    create_link_artifact(
        link=main_file.as_uri(),
        link_text=main_file.name,
        key=artifact_key(campaign, "report"),
        description=f"{campaign}: {len(report.files)} report files in {directory}: "
        + ", ".join(path.name for path in report.files),
    )
    get_run_logger().info("%s: %d report files in %s", campaign, len(report.files), directory)
    return report
