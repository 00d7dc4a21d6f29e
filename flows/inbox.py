"""`watch-inbox`: claim each dropped file once, import it, and start its campaign's dialing run.

Two watchers on one inbox each claim a file at most once between them (see `campaigner.inbox`);
the dialing run is started through the campaign's `run-campaign` deployment with an idempotency
key made of the imported files' content hashes, so a retried watcher does not start it twice.
Each file's receipt, written beside it, is also in the `watch-inbox-receipts` artifact.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, cast

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectNotFound
from pydantic import Field

from campaigner.display_text import for_markdown
from campaigner.inbox import (
    ClaimedFile,
    FileOutcome,
    InboxLook,
    Receipt,
    advise_misplaced_files,
    process_claimed_file,
    settle_failed_import,
    take_files,
)
from campaigner.serving import RUN_CAMPAIGN_DEPLOYMENT
from campaigner.settings import get_settings
from flows.notifications import emit_rows_rejected
from flows.resources import FILE_TASK_RETRIES, imports_dir, is_transient, store_engine

__all__ = [
    "advise_misplaced_inbox_files",
    "claim_inbox_files",
    "import_inbox_file",
    "start_campaign_run",
    "watch_inbox",
]


@task(name="claim-inbox-files")
def claim_inbox_files(inbox: Path, quiet_seconds: float, stale_after: timedelta) -> InboxLook:
    """Put stale claims back, refuse links and special files (into failed/), then claim every
    settled file of every campaign folder; a file or folder that raises is skipped, not the rest."""
    return take_files(inbox, quiet_seconds=quiet_seconds, stale_after=stale_after)


@task(name="advise-misplaced-inbox-files")
def advise_misplaced_inbox_files(inbox: Path) -> list[Receipt]:
    """Tell each file dropped into the inbox itself, once, where to put it (a receipt beside it)."""
    return advise_misplaced_files(inbox, get_settings().campaigns_dir)


@task(name="import-inbox-file", **FILE_TASK_RETRIES)
def import_inbox_file(claimed: ClaimedFile) -> FileOutcome:
    """Import a claimed file into its campaign, then archive it (or fail it, saying why)."""
    with store_engine() as engine:
        return process_claimed_file(
            engine=engine,
            campaigns_dir=get_settings().campaigns_dir,
            claimed=claimed,
            out_dir=imports_dir(claimed.folder.campaign),
        )


@task(name="start-campaign-run", retries=2, retry_delay_seconds=[5, 30])
def start_campaign_run(campaign: str, idempotency_key: str) -> None:
    """Start the campaign's `run-campaign` deployment now (once per key), without waiting."""
    logger = get_run_logger()
    name = RUN_CAMPAIGN_DEPLOYMENT.format(campaign=campaign)
    try:
        run = cast(
            FlowRun,
            run_deployment(name, idempotency_key=idempotency_key, timeout=0, as_subflow=False),
        )
    except ObjectNotFound:
        logger.warning(
            "no deployment %s: the new contacts wait for the next run of the campaign "
            "(restart `campaigner serve` after adding a campaign file)",
            name,
        )
        return
    logger.info("started %s: flow run %s", name, run.name)


def _outcome_row(outcome: FileOutcome) -> dict[str, str | int]:
    summary = outcome.summary
    if outcome.error is not None:
        result = f"failed: {outcome.error.splitlines()[0]}"
    elif outcome.put_back:
        result = "imported what was read; back in the inbox (changed meanwhile, or released)"
    elif summary is not None and summary.already_ingested:
        result = f"already imported as {Path(summary.first_ingested_as or '').name}"
    else:
        result = "imported"
    return {
        "campaign": outcome.campaign,
        "file": outcome.file,
        "result": result,
        "accepted": summary.accepted if summary else 0,
        "rejected": summary.rejected_total if summary else 0,
        "now at": str(outcome.moved_to),
    }


def _receipts_markdown(receipts: list[Receipt]) -> str:
    """Each receipt under its file's name, line by line as written beside the file."""
    return "\n\n".join(
        f"### {for_markdown(receipt.file)}\n\n"
        + "  \n".join(for_markdown(line) for line in receipt.text.splitlines())
        for receipt in receipts
    )


def _runs_to_start(outcomes: list[FileOutcome]) -> dict[str, str]:
    """{campaign: idempotency key} for the campaigns that gained contacts."""
    hashes: dict[str, list[str]] = {}
    for outcome in outcomes:
        if outcome.summary is not None and outcome.summary.accepted:
            hashes.setdefault(outcome.campaign, []).append(outcome.summary.sha256)
    return {
        campaign: f"watch-inbox-{campaign}-"
        + hashlib.sha256("".join(sorted(shas)).encode()).hexdigest()[:32]
        for campaign, shas in hashes.items()
    }


@flow(name="watch-inbox", retries=1, retry_delay_seconds=30)
def watch_inbox(
    inbox: Annotated[str | None, Field(description="The inbox folder.")] = None,
    quiet_seconds: Annotated[float, Field(ge=0)] = 15,
    stale_after_minutes: Annotated[float, Field(gt=0)] = 60,
    start_runs: bool = True,
) -> list[FileOutcome]:
    """Import the files dropped into inbox/<campaign>/ and start those campaigns' dialing runs.

    Args:
        inbox: The inbox folder [default: CAMPAIGNER_INBOX, else ./inbox].
        quiet_seconds: A file is taken once its size and time have not changed for this long.
        stale_after_minutes: A claim older than this (its watcher died) goes back to the inbox.
        start_runs: Start each campaign's `run-campaign` deployment when it gained contacts.

    A file imported with rejected rows is also a `campaigner.campaign.rows-rejected` event.
    """
    logger = get_run_logger()
    root = Path(inbox) if inbox else get_settings().inbox
    look = claim_inbox_files(root, quiet_seconds, timedelta(minutes=stale_after_minutes))
    advised = advise_misplaced_inbox_files(root)
    for receipt in advised:
        logger.warning("%s is not in a campaign's folder: see %s", receipt.file, receipt.path)
    outcomes = list(look.refused)
    for claimed in look.claims:
        state = import_inbox_file(claimed, return_state=True)
        if state.is_completed():
            outcomes.append(state.result())
            continue
        error = state.result(raise_on_failure=False)
        if isinstance(error, BaseException) and not is_transient(error):
            # Trying again next minute would fail the same way, forever: failed/, with the reason.
            line = settle_failed_import(claimed, f"{type(error).__name__}: {error}", for_good=True)
        else:
            # Still failing after its retries (the store down, say): back into the inbox for the
            # next run, rather than held in processing/ until the claim goes stale.
            line = settle_failed_import(claimed, str(state.message), for_good=False)
        logger.warning("%s", line)
    for outcome in outcomes:
        logger.info(
            "%s", " | ".join(f"{key}: {value}" for key, value in _outcome_row(outcome).items())
        )
    emit_rows_rejected(outcomes)
    if outcomes:
        create_table_artifact(
            [_outcome_row(outcome) for outcome in outcomes],
            key="watch-inbox-files",
            description=f"Files taken from {root}",
        )
    receipts = [outcome.receipt for outcome in outcomes if outcome.receipt is not None] + advised
    if receipts:
        create_markdown_artifact(
            _receipts_markdown(receipts),
            key="watch-inbox-receipts",
            description="The receipts written beside the files dropped into the inbox",
        )
    if start_runs:
        for campaign, key in _runs_to_start(outcomes).items():
            start_campaign_run(campaign, key)
    return outcomes
