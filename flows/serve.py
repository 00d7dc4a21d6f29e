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
one is dialing is cancelled: the running one picks up new contacts itself).

Flow runs send a heartbeat every 30 s, and the automation `UNRESPONSIVE_RUNS` (registered once per
Prefect server) marks a run that has sent none for 90 s `Crashed`: a served process killed with
SIGKILL (or its machine lost) would otherwise leave its run `Running` for good in the UI. The
campaign it was dialing loses nothing (the dialer is crash-safe); its next run picks it up.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from prefect import Flow, get_client, serve
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
from prefect.types.entrypoint import EntrypointType

from campaigner.campaign import CampaignFileError
from campaigner.inbox import load_named_campaign
from campaigner.settings import get_settings
from flows.campaign import run_campaign, sync_results
from flows.inbox import watch_inbox
from flows.ingest import ingest_contacts
from flows.report import export_report_flow

__all__ = [
    "UNRESPONSIVE_RUNS",
    "build_deployments",
    "campaign_names",
    "main",
    "register_unresponsive_run_automation",
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


def campaign_names(campaigns_dir: Path) -> tuple[list[str], list[str]]:
    """The campaigns of the valid campaign files, and a line for each file that is not valid."""
    names, problems = [], []
    for path in sorted(campaigns_dir.glob("*.yaml")):
        try:
            names.append(load_named_campaign(campaigns_dir, path.stem).name)
        except CampaignFileError as error:
            problems.append(str(error))
    return names, problems


def _deployment(flow: Flow[..., Any], name: str, **options: Any) -> RunnerDeployment:
    # Module paths, not file paths: a worker on another machine imports the installed `flows`.
    deployment = flow.to_deployment(name, entrypoint_type=EntrypointType.MODULE_PATH, **options)
    return cast(RunnerDeployment, deployment)


def build_deployments(
    *, inbox: Path, campaigns: list[str], watch_every: timedelta = WATCH_INBOX_EVERY
) -> list[RunnerDeployment]:
    """The deployments `campaigner serve` serves, with their schedules and parameters."""
    deployments = [
        _deployment(
            watch_inbox,
            "inbox",
            interval=watch_every,
            parameters={"inbox": str(inbox.resolve())},
        ),
        _deployment(ingest_contacts, "by-hand"),
    ]
    for campaign in campaigns:
        parameters = {"campaign": campaign}
        deployments += [
            _deployment(
                run_campaign,
                campaign,
                interval=RUN_CAMPAIGN_EVERY,
                parameters=parameters,
                concurrency_limit=ONE_RUN_PER_CAMPAIGN,
            ),
            _deployment(sync_results, campaign, parameters=parameters),
            _deployment(
                export_report_flow, campaign, cron=NIGHTLY_REPORT_CRON, parameters=parameters
            ),
        ]
    return deployments


def main(argv: list[str] | None = None) -> None:
    """Serve the deployments until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m flows.serve", description=__doc__)
    parser.add_argument("--inbox", type=Path, help="the inbox folder [default: CAMPAIGNER_INBOX]")
    parser.add_argument(
        "--watch-every",
        type=float,
        default=WATCH_INBOX_EVERY.total_seconds(),
        help="seconds between watch-inbox runs [default: 60]",
    )
    parser.add_argument(
        "--work-pool",
        help="register the deployments for this work pool's workers and exit, instead of serving",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    inbox = args.inbox or settings.inbox
    campaigns, problems = campaign_names(settings.campaigns_dir)
    for campaign in campaigns:
        (inbox / campaign).mkdir(parents=True, exist_ok=True)
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    print(
        f"campaigner deployments: inbox {inbox.resolve()}, "
        f"campaigns {', '.join(campaigns) or 'none'} "
        f"(from {settings.campaigns_dir.resolve()})",
        flush=True,
    )
    watch_every = timedelta(seconds=args.watch_every)
    # Ctrl-C stops serving, even when started by a process that ignores it (a shell's background
    # job, a service manager): `campaigner serve` stops this process with it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    deployments = build_deployments(inbox=inbox, campaigns=campaigns, watch_every=watch_every)
    if register_unresponsive_run_automation():
        print(f"registered the automation {UNRESPONSIVE_RUNS!r}", flush=True)
    if args.work_pool:
        for deployment in deployments:
            # campaigns/, inbox/ and out/ are relative: workers run the flows from this folder,
            # which must be at the same path on every worker machine (a shared file system).
            deployment.job_variables = {"working_dir": str(Path.cwd()), "env": _HEARTBEAT_ENV}
            deployment.apply(work_pool_name=args.work_pool)
            print(f"registered {deployment.flow_name}/{deployment.name} for {args.work_pool}")
        return
    # Served runs are child processes with this environment.
    os.environ.update(_HEARTBEAT_ENV)
    serve(*deployments)


if __name__ == "__main__":
    main()
