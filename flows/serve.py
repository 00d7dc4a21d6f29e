"""`python -m flows.serve`: serve campaigner's deployments with their schedules.

`campaigner serve` runs this (after starting a local Prefect server when PREFECT_API_URL is unset).
With `--work-pool POOL` it registers the same deployments for that pool's workers and exits.

| deployment | schedule | what |
|---|---|---|
| `watch-inbox/inbox` | every minute | import dropped files, start their campaigns' runs |
| `run-campaign/<campaign>` | every 5 minutes | dial until nothing is due now; one run at a time |
| `sync-results/<campaign>` | by hand | bring home results of calls in flight |
| `export-report/<campaign>` | nightly, 02:00 UTC | write the report files |
| `ingest-contacts/by-hand` | by hand | import one file into a campaign |

One `run-campaign` deployment per campaign file, each limited to one run at a time (a new run while
one is dialing is cancelled: the running one picks up new contacts itself). While serving, the
campaign files are looked at again every `--watch-every` seconds: a new file's deployments are
served at once, a removed file's paused (`ServedCampaigns`), without a restart.

Flow runs send a heartbeat every 30 s, and the automation `UNRESPONSIVE_RUNS` (registered once per
Prefect server) marks a run that has sent none for 90 s `Crashed`: a served process killed with
SIGKILL (or its machine lost) would otherwise leave its run `Running` for good in the UI. The
campaign it was dialing loses nothing (the dialer is crash-safe); its next run picks it up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from prefect import Flow, get_client
from prefect.automations import Automation
from prefect.client.schemas.objects import (
    ConcurrencyLimitConfig,
    ConcurrencyLimitStrategy,
    StateType,
)
from prefect.deployments.runner import RunnerDeployment
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectNotFound, PrefectException
from prefect.runner import Runner
from prefect.types.entrypoint import EntrypointType

from campaigner.campaign import CampaignFileError
from campaigner.display_text import printable_lines
from campaigner.preflight import checklist_lines
from campaigner.retell import RetellError
from campaigner.serving import CampaignFiles, CampaignScan
from campaigner.settings import SettingsError, get_settings
from campaigner.store import DatabaseError
from flows.campaign import check_campaign, run_campaign, sync_results
from flows.inbox import watch_inbox
from flows.ingest import ingest_contacts
from flows.report import export_report_flow

__all__ = [
    "UNRESPONSIVE_RUNS",
    "ServedCampaigns",
    "campaign_deployments",
    "main",
    "register_for_work_pool",
    "register_unresponsive_run_automation",
    "serve_following_campaign_files",
    "shared_deployments",
]

WATCH_INBOX_EVERY = timedelta(minutes=1)
RUN_CAMPAIGN_EVERY = timedelta(minutes=5)
NIGHTLY_REPORT_CRON = "0 2 * * *"
ONE_RUN_PER_CAMPAIGN = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
)
HEARTBEAT_EVERY_S = 30
# Three heartbeats missed: a busy run (a million-row import holds the GIL for seconds) is not
# taken for a dead one.
SILENT_FOR = timedelta(seconds=90)
UNRESPONSIVE_RUNS = "campaigner: crash flow runs that stopped sending heartbeats"
# Set over any value in the environment: a slower heartbeat than SILENT_FOR allows would have the
# automation crash healthy runs.
_HEARTBEAT_ENV = {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_EVERY_S)}


def register_unresponsive_run_automation() -> bool:
    """Create the `UNRESPONSIVE_RUNS` automation unless the server has it; True if created."""
    with get_client(sync_client=True) as client:
        if client.read_automations_by_name(name=UNRESPONSIVE_RUNS):
            return False
    Automation(
        name=UNRESPONSIVE_RUNS,
        description="Marks a flow run Crashed when its process stops sending heartbeats.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=SILENT_FOR,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"No heartbeat for {SILENT_FOR.total_seconds():.0f} s: its process died.",
            )
        ],
    ).create()
    return True


async def _deployment(flow: Flow[..., Any], name: str, **options: Any) -> RunnerDeployment:
    # Module paths, not file paths: a worker on another machine imports the installed `flows`.
    return await flow.ato_deployment(name, entrypoint_type=EntrypointType.MODULE_PATH, **options)


async def shared_deployments(
    *, inbox: Path, watch_every: timedelta = WATCH_INBOX_EVERY
) -> list[RunnerDeployment]:
    """The deployments served whatever the campaigns: watch-inbox and ingest-contacts."""
    return [
        await _deployment(
            watch_inbox,
            "inbox",
            interval=watch_every,
            parameters={"inbox": str(inbox)},
        ),
        await _deployment(ingest_contacts, "by-hand"),
    ]


async def campaign_deployments(campaign: str) -> list[RunnerDeployment]:
    """A campaign's deployments: run-campaign, sync-results and export-report."""
    parameters = {"campaign": campaign}
    return [
        await _deployment(
            run_campaign,
            campaign,
            interval=RUN_CAMPAIGN_EVERY,
            parameters=parameters,
            concurrency_limit=ONE_RUN_PER_CAMPAIGN,
        ),
        await _deployment(sync_results, campaign, parameters=parameters),
        await _deployment(
            export_report_flow, campaign, cron=NIGHTLY_REPORT_CRON, parameters=parameters
        ),
    ]


def _say_skipped(problems: list[str]) -> None:
    """The campaign files not served, each with its problem, on stderr. A problem quotes a file's
    name and values: nothing in them may act on a terminal."""
    for problem in problems:
        print(f"skipped: {printable_lines(problem)}", file=sys.stderr, flush=True)


class ServedCampaigns:
    """Keeps the deployments a running `Runner` serves in line with the campaign files.

    A new campaign file's deployments are added to the running runner (`Runner.aadd_deployment`
    applies them to the API, and the runner's next poll asks for their runs too). A removed
    file's are paused, as Prefect itself pauses everything a runner served when it stops: the
    server deletes their runs scheduled and not started, and leaves runs in progress alone.
    Deleting them instead would also delete the concurrency limit a run in progress holds (the
    file put back would then start a second dialing run beside it) and their history in the UI.
    A file put back is applied again, which unpauses its deployments.
    """

    def __init__(self, runner: Runner, inbox: Path) -> None:
        self._runner = runner
        self._inbox = inbox
        self._deployment_ids: dict[str, list[UUID]] = {}

    async def follow(self, scan: CampaignScan) -> None:
        """Report the scan's new problems, serve its new campaigns, pause the ones gone, and
        check the new and changed ones against Retell."""
        _say_skipped(scan.problems)
        for campaign in sorted(scan.campaigns - self._deployment_ids.keys()):
            await self._change(campaign, self._serve)
        for campaign in sorted(self._deployment_ids.keys() - scan.campaigns):
            await self._change(campaign, self._pause)
        for campaign in sorted(scan.changed):
            await self._check(campaign)

    async def _check(self, campaign: str) -> None:
        """The checklist of a new or changed campaign, at once: a problem shows when the file
        arrives, not at its first scheduled run (which checks again and stops on a blocker)."""
        try:
            checklist = await check_campaign(campaign)
        # Retell, the store or the Prefect API (the key's Secret block) out of reach, or the file
        # changed again meanwhile: serving goes on, and the campaign's runs check for themselves.
        except (
            RetellError,
            DatabaseError,
            CampaignFileError,
            httpx.HTTPError,
            PrefectException,
        ) as error:
            shown = printable_lines(str(error))
            print(f"campaign {campaign}: not checked ({shown})", file=sys.stderr, flush=True)
            return
        where = sys.stdout if checklist.ok else sys.stderr
        print("\n".join(checklist_lines(checklist)), file=where, flush=True)

    async def _change(self, campaign: str, change: Callable[[str], Awaitable[None]]) -> None:
        try:
            await change(campaign)
        except (OSError, httpx.HTTPError, PrefectException) as error:
            # The Prefect API down for a moment must not stop the server: the campaign is
            # compared again at the next look at the folder.
            print(f"campaign {campaign}: {error}; trying again later", file=sys.stderr, flush=True)

    async def _serve(self, campaign: str) -> None:
        (self._inbox / campaign).mkdir(parents=True, exist_ok=True)
        ids = [
            await self._runner.aadd_deployment(deployment)
            for deployment in await campaign_deployments(campaign)
        ]
        self._deployment_ids[campaign] = ids
        print(
            f"serving campaign {campaign}: run-campaign/{campaign}, sync-results/{campaign}, "
            f"export-report/{campaign}",
            flush=True,
        )

    async def _pause(self, campaign: str) -> None:
        async with get_client() as client:
            for deployment_id in self._deployment_ids[campaign]:
                with suppress(ObjectNotFound):  # deleted by hand meanwhile: nothing to pause
                    await client.pause_deployment(deployment_id)
        del self._deployment_ids[campaign]
        print(
            f"campaign {campaign}: its file is gone; its deployments are paused "
            "(a run in progress finishes)",
            flush=True,
        )


async def serve_following_campaign_files(
    *, inbox: Path, campaign_files: CampaignFiles, watch_every: timedelta
) -> None:
    """Serve the deployments until interrupted, following the campaign files every `watch_every`."""
    # No cap on runs in parallel, as `prefect.serve` has it: Prefect's default (5 processes) would
    # hold one campaign's scheduled run back behind other campaigns' runs and the inbox's.
    runner = Runner(limit=None)
    for deployment in await shared_deployments(inbox=inbox, watch_every=watch_every):
        await runner.aadd_deployment(deployment)
    print("serving watch-inbox/inbox, ingest-contacts/by-hand", flush=True)
    served = ServedCampaigns(runner, inbox)
    await served.follow(campaign_files.scan())

    async def follow_campaign_files() -> None:
        while True:
            await asyncio.sleep(watch_every.total_seconds())
            await served.follow(campaign_files.scan())

    # A crash of the follower stops the runner (loudly) rather than leaving it serving a stale set.
    async with asyncio.TaskGroup() as tasks:
        following = tasks.create_task(follow_campaign_files())
        await runner.start()
        following.cancel()


async def register_for_work_pool(
    *, inbox: Path, campaigns: frozenset[str], watch_every: timedelta, work_pool: str
) -> None:
    """Register the deployments for a work pool's workers (once: nothing follows the files)."""
    deployments = await shared_deployments(inbox=inbox, watch_every=watch_every)
    for campaign in sorted(campaigns):
        (inbox / campaign).mkdir(parents=True, exist_ok=True)
        deployments += await campaign_deployments(campaign)
    for deployment in deployments:
        # campaigns/, inbox/ and out/ are relative: workers run the flows from this folder,
        # which must be at the same path on every worker machine (a shared file system).
        deployment.job_variables = {"working_dir": str(Path.cwd()), "env": _HEARTBEAT_ENV}
        await deployment.aapply(work_pool_name=work_pool)
        print(f"registered {deployment.flow_name}/{deployment.name} for {work_pool}")


def main(argv: list[str] | None = None) -> None:
    """Serve the deployments until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__)
    parser.add_argument("--inbox", type=Path, help="the inbox folder [default: CAMPAIGNER_INBOX]")
    parser.add_argument(
        "--watch-every",
        type=float,
        default=WATCH_INBOX_EVERY.total_seconds(),
        help="seconds between watch-inbox runs, and between looks at the campaign files "
        "[default: 60]",
    )
    parser.add_argument(
        "--work-pool",
        help="register the deployments for this work pool's workers and exit, instead of serving",
    )
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as error:
        parser.exit(2, f"error: invalid setting: {error}\n")
    inbox = (args.inbox or settings.inbox).resolve()
    watch_every = timedelta(seconds=args.watch_every)
    print(
        f"campaigner deployments: inbox {inbox}, campaigns from {settings.campaigns_dir.resolve()}",
        flush=True,
    )
    # Ctrl-C stops serving, even when started by a process that ignores it (a shell's background
    # job, a service manager): `campaigner serve` stops this process with it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if register_unresponsive_run_automation():
        print(f"registered the automation {UNRESPONSIVE_RUNS!r}", flush=True)
    if args.work_pool:
        # Registered once, now: a file written a moment ago is no copy in progress to wait for.
        scan = CampaignFiles(settings.campaigns_dir, quiet_seconds=0).scan()
        _say_skipped(scan.problems)
        asyncio.run(
            register_for_work_pool(
                inbox=inbox,
                campaigns=scan.campaigns,
                watch_every=watch_every,
                work_pool=args.work_pool,
            )
        )
        return
    # Served runs are child processes with this environment.
    os.environ.update(_HEARTBEAT_ENV)
    campaign_files = CampaignFiles(settings.campaigns_dir)
    try:
        asyncio.run(
            serve_following_campaign_files(
                inbox=inbox, campaign_files=campaign_files, watch_every=watch_every
            )
        )
    except KeyboardInterrupt:
        print("stopped serving", flush=True)


if __name__ == "__main__":
    main()
