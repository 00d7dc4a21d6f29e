"""`make demo`: the demo campaign through Prefect, start to finish, in a couple of minutes.

Starts the Retell simulator in the background (as `campaigner.demo` does), then runs the flows on a
fresh SQLite store in `.demo/` against Prefect's ephemeral server: `ingest-contacts` with
`sample_data/contacts.csv`, `run-campaign` on `campaigns/demo.yaml` (its progress logged every two
seconds), and `export-report`. Prints the summary and where the report files are. Runnable again at
once; it leaves no process behind (the simulator is a thread, the ephemeral server stops at exit).
"""

from __future__ import annotations

import os
import shutil

from rich.console import Console

from campaigner import eventloop
from campaigner.console import print_run_summary
from campaigner.demo import CAMPAIGN_FILE, CONTACTS_FILE, DEMO_DIR, SIMULATOR, print_import
from campaigner.settings import get_settings
from flows.campaign import run_campaign
from flows.ingest import ingest_contacts
from flows.report import export_report_flow
from retell_sim import run_simulator

__all__ = ["main"]

CAMPAIGN = "demo"
PROGRESS_EVERY_S = 2.0


def main() -> None:
    """Entry point of `python -m flows.demo`."""
    console = Console()
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir(parents=True)
    with run_simulator(SIMULATOR) as sim:
        console.print(
            f"Retell simulator running at {sim.base_url} ({SIMULATOR.speed:g}x real time)"
        )
        # The flows read their configuration from the environment, as a deployment's would.
        os.environ.update(
            {
                "CAMPAIGNER_DATABASE_URL": f"sqlite:///{DEMO_DIR / 'campaigner.db'}",
                "CAMPAIGNER_CAMPAIGNS_DIR": str(CAMPAIGN_FILE.parent),
                "RETELL_BASE_URL": sim.base_url,
                "RETELL_API_KEY": sim.api_key,
            }
        )
        get_settings.cache_clear()
        print_import(console, ingest_contacts(CAMPAIGN, CONTACTS_FILE))
        summary = eventloop.run(run_campaign(CAMPAIGN, progress_every_seconds=PROGRESS_EVERY_S))
    print_run_summary(summary, console)
    report = export_report_flow(CAMPAIGN)
    console.print(f"Report files in {report.directory}/:")
    for path in report.files:
        console.print(f"  {path.name}")
    html = next((path for path in report.files if path.suffix == ".html"), None)
    if html is not None:
        console.print(f"Open {html.resolve().as_uri()} in a browser.")
    console.print(f"Everything is stored in {DEMO_DIR / 'campaigner.db'}.")


if __name__ == "__main__":
    main()
