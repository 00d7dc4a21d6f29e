"""`run-campaign` and `sync-results`: one campaign's dialing run, one task per run (never per call).

The `dial-campaign` task drives a `CampaignRunner` until nothing is due now or the deadline; the
runner does every call with asyncio and httpx inside it. Its progress reaches a progress artifact
(and the run's log) every few seconds, and the end of the run leaves a markdown summary and a table
of outcome counts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    acreate_markdown_artifact,
    acreate_progress_artifact,
    acreate_table_artifact,
    aupdate_progress_artifact,
)
from pydantic import Field

from campaigner.campaign import CampaignConfig
from campaigner.console import progress_line
from campaigner.dialer.clock import SystemClock
from campaigner.dialer.progress import (
    ThrottledProgress,
    outcome_rows,
    percent_done,
    summary_markdown,
)
from campaigner.dialer.runner import CampaignRunner, RunOptions, RunProgress, RunSummary
from campaigner.display_text import for_markdown
from campaigner.inbox import load_named_campaign
from campaigner.preflight import (
    Checklist,
    PreflightFailed,
    check_and_remember,
    checked_before_dial,
    checklist_markdown,
)
from campaigner.retell import RetellClient
from campaigner.settings import get_settings
from campaigner.store import Engine
from flows.notifications import campaign_status, emit_preflight_failed, emit_run_end
from flows.resources import (
    DIAL_TASK_RETRIES,
    KEY_SETTING,
    CampaignName,
    artifact_key,
    retell_settings,
    store_engine,
)

__all__ = [
    "check_campaign",
    "dial_campaign",
    "preflight",
    "run_campaign",
    "sync_campaign",
    "sync_results",
]

MaxMinutes = Annotated[
    float | None,
    Field(gt=0, description="Stop dialing after this many minutes (calls in progress finish)."),
]
ProgressEvery = Annotated[
    float, Field(ge=1, description="Seconds between progress artifact updates and log lines.")
]


class _ProgressArtifact:
    """Publishes runner progress to a progress artifact, from the runner's own event loop."""

    def __init__(self, artifact_id: UUID, logger: logging.Logger | logging.LoggerAdapter[Any]):
        self._artifact_id = artifact_id
        self._logger = logger
        self._pending: set[asyncio.Task[Any]] = set()

    def __call__(self, progress: RunProgress) -> None:
        line = progress_line(progress)
        self._logger.info(line)
        self._spawn(
            aupdate_progress_artifact(
                self._artifact_id, percent_done(progress.counts), description=line
            )
        )

    def _spawn(self, update: Coroutine[Any, Any, UUID]) -> None:
        pending = asyncio.get_running_loop().create_task(update)
        self._pending.add(pending)
        pending.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for the updates under way (a failed update is not worth failing the run)."""
        await asyncio.gather(*self._pending, return_exceptions=True)

    async def finish(self, summary: RunSummary) -> None:
        """Show where the campaign ended."""
        await aupdate_progress_artifact(
            self._artifact_id,
            percent_done(summary.counts),
            # Shown as markdown; the reason may quote Retell's error text or a person's.
            description=f"{summary.campaign}: {summary.status}, "
            f"{for_markdown(summary.stop_reason)}",
        )


@asynccontextmanager
async def _campaign_at_retell(
    campaign: str,
) -> AsyncIterator[tuple[CampaignConfig, RetellClient, Engine]]:
    """The campaign's file, a client with the run's key, and the store."""
    config = load_named_campaign(get_settings().campaigns_dir, campaign)
    settings = await retell_settings()
    with store_engine() as engine:
        async with RetellClient.from_settings(settings) as client:
            yield config, client, engine


async def preflight(campaign: str, *, recheck: bool) -> None:
    """The checks before the campaign's first dial (skipped while this version of it has a
    recent pass). A blocker fails the run with the checklist: as the error's message and as a
    markdown artifact."""
    async with _campaign_at_retell(campaign) as (config, client, engine):
        try:
            await checked_before_dial(
                config, client, engine, SystemClock(), recheck=recheck, key_setting=KEY_SETTING
            )
        except PreflightFailed as failed:
            emit_preflight_failed(campaign, failed)
            await acreate_markdown_artifact(
                checklist_markdown(failed.checklist),
                key=artifact_key(campaign, "preflight"),
                description=f"{campaign}: what keeps it from dialing",
            )
            raise


async def check_campaign(campaign: str) -> Checklist:
    """A fresh checklist of the campaign, its pass remembered for the runs that follow."""
    async with _campaign_at_retell(campaign) as (config, client, engine):
        return await check_and_remember(
            config, client, engine, SystemClock(), key_setting=KEY_SETTING
        )


async def _drive(campaign: str, deadline: datetime | None, progress_every: float) -> RunSummary:
    """Run the campaign's runner with a progress artifact; the shared body of both tasks."""
    logger = get_run_logger()
    artifact_id = await acreate_progress_artifact(
        0.0, key=artifact_key(campaign, "progress"), description=f"{campaign}: starting"
    )
    publisher = _ProgressArtifact(artifact_id, logger)
    try:
        async with _campaign_at_retell(campaign) as (config, client, engine):
            runner = CampaignRunner(
                config=config,
                engine=engine,
                client=client,
                options=RunOptions(deadline=deadline),
                on_progress=ThrottledProgress(publisher, every=progress_every),
            )
            summary = await runner.run()
    finally:
        await publisher.drain()
    await publisher.finish(summary)
    logger.info(
        "%s: %s (%s); %d calls placed, %d finished",
        campaign,
        summary.status,
        summary.stop_reason,
        summary.calls_placed,
        summary.calls_finished,
    )
    return summary


@task(name="dial-campaign", **DIAL_TASK_RETRIES)
async def dial_campaign(
    campaign: str, deadline: datetime | None, progress_every: float
) -> RunSummary:
    """Reconcile, dial and sync until nothing is due now (or the deadline)."""
    return await _drive(campaign, deadline, progress_every)


@task(name="sync-campaign", **DIAL_TASK_RETRIES)
async def sync_campaign(campaign: str, progress_every: float) -> RunSummary:
    """Follow the calls in flight and settle them; a deadline already past dials nothing new."""
    return await _drive(campaign, datetime.now(UTC), progress_every)


async def _publish_summary(summary: RunSummary) -> None:
    """The end-of-run artifacts: a markdown summary and a table of outcome counts."""
    await acreate_markdown_artifact(
        summary_markdown(summary),
        key=artifact_key(summary.campaign, "summary"),
        description=f"{summary.campaign}: the last run",
    )
    await acreate_table_artifact(
        outcome_rows(summary.counts),
        key=artifact_key(summary.campaign, "outcomes"),
        description=f"{summary.campaign}: attempts and finished contacts by outcome",
    )


@flow(name="run-campaign", retries=1, retry_delay_seconds=60)
async def run_campaign(
    campaign: CampaignName,
    max_minutes: MaxMinutes = 55,
    progress_every_seconds: ProgressEvery = 5,
    recheck: bool = False,
) -> RunSummary:
    """Dial a campaign until nothing is due now or `max_minutes` have passed.

    Checks the campaign against Retell first, as `campaigner check` does (once a day per version
    of its file, endpoint and key); a failed check fails the run with the checklist. Exits at
    once when the campaign is paused, cancelled or has nobody callable now. A failed check, and
    the campaign paused or completed by the run, are Prefect events (`flows.notifications`).
    Deployed once per campaign with a concurrency limit of one, so a campaign never has two
    dialing runs.

    Args:
        campaign: The campaign's name (campaigns/<name>.yaml).
        max_minutes: Stop dialing after this many minutes; calls in progress still finish
            and the analyses of connected calls are awaited.
        progress_every_seconds: Seconds between progress artifact updates and log lines.
        recheck: Check the campaign against Retell even if this version of it passed today.
    """
    deadline = datetime.now(UTC) + timedelta(minutes=max_minutes) if max_minutes else None
    await preflight(campaign, recheck=recheck)
    with store_engine() as engine:
        status_before = campaign_status(engine, campaign)
    summary = await dial_campaign(campaign, deadline, progress_every_seconds)
    await _publish_summary(summary)
    emit_run_end(status_before, summary)
    return summary


@flow(name="sync-results", retries=1, retry_delay_seconds=60)
async def sync_results(
    campaign: CampaignName, progress_every_seconds: ProgressEvery = 5
) -> RunSummary:
    """Bring home the results of a campaign's calls in flight, without dialing anyone new.

    Args:
        campaign: The campaign's name (campaigns/<name>.yaml).
        progress_every_seconds: Seconds between progress artifact updates and log lines.
    """
    summary = await sync_campaign(campaign, progress_every_seconds)
    await _publish_summary(summary)
    return summary
