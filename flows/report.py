"""`export-report`: write a campaign's report files and link them from the run."""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact

from campaigner.reports import ExportedReport, ReportError, ReportFormat, export_report
from flows.resources import (
    FILE_TASK_RETRIES,
    CampaignName,
    artifact_key,
    reports_dir,
    store_engine,
)

__all__ = ["export_campaign_report", "export_report_flow"]


@task(name="write-report", **FILE_TASK_RETRIES)
def export_campaign_report(campaign: str, formats: tuple[ReportFormat, ...]) -> ExportedReport:
    """Write the report files into out/<campaign>/reports/ (the newest report replaces the last)."""
    with store_engine() as engine:
        return export_report(engine, campaign, reports_dir(campaign), formats=formats)


@flow(name="export-report", retries=1, retry_delay_seconds=60)
def export_report_flow(
    campaign: CampaignName, formats: tuple[ReportFormat, ...] = tuple(ReportFormat)
) -> ExportedReport:
    """Write a campaign's report: CSV, XLSX and Parquet exports, an HTML report, summary.json.

    A format that cannot be written fails the run, after the other formats are written.

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
    if report.failures:
        # After the artifact, so the files that were written are linked; failing the run is what
        # tells whoever watches the nightly runs that a format is missing.
        raise ReportError(f"{campaign}: " + "; ".join(str(failure) for failure in report.failures))
    return report
