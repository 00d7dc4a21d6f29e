"""`ingest-contacts`: import one contacts file into a campaign."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task

from campaigner.contacts import IngestSummary, ingest_contacts_file
from campaigner.inbox import load_named_campaign
from campaigner.settings import get_settings
from campaigner.store import transaction
from flows.resources import FILE_TASK_RETRIES, CampaignName, imports_dir, store_engine

__all__ = ["import_contacts_file", "ingest_contacts"]


@task(name="import-contacts-file", **FILE_TASK_RETRIES)
def import_contacts_file(campaign: str, file: Path) -> IngestSummary:
    """Import the file; every row is accepted or rejected with a reason."""
    config = load_named_campaign(get_settings().campaigns_dir, campaign)
    with store_engine() as engine, transaction(engine) as session:
        return ingest_contacts_file(
            session=session, config=config, path=file, out_dir=imports_dir(campaign)
        )


@flow(name="ingest-contacts", log_prints=False)
def ingest_contacts(campaign: CampaignName, file: Path) -> IngestSummary:
    """Import a contacts file (.csv, .tsv, .txt or .xlsx) into a campaign.

    Args:
        campaign: The campaign's name (campaigns/<name>.yaml).
        file: The contacts file, as a path on the machine that runs the flow.
    """
    summary = import_contacts_file(campaign, file)
    logger = get_run_logger()
    if summary.already_ingested:
        logger.info(
            "%s was already imported into %s as %s: nothing changed",
            file.name,
            campaign,
            summary.first_ingested_as,
        )
    else:
        logger.info(
            "%s: %d rows read, %d accepted, %d rejected",
            file.name,
            summary.rows_read,
            summary.accepted,
            summary.rejected_total,
        )
        if summary.rejected_total:
            logger.info("rejected rows, each with its reason: %s", summary.rejected_file)
    return summary
