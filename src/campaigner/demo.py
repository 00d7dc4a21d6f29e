"""`make demo`: a whole campaign on one machine, in about a minute, with nothing to set up.

It starts the Retell simulator in the background (60x real time, 20 concurrent calls, 16 dials per
second), imports `sample_data/contacts.csv` into `campaigns/demo.yaml` on a fresh SQLite store in
`.demo/`, dials every contact with the direct-mode runner, prints the summary and writes the report
where `campaigner report` would (`out/demo/reports/`). Running it again starts from scratch; it
leaves no process behind.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rich.console import Console

from campaigner import eventloop
from campaigner.campaign import load_campaign
from campaigner.console import ProgressDisplay, print_run_summary
from campaigner.contacts import IngestSummary, ingest_contacts_file
from campaigner.dialer.runner import CampaignRunner, RunSummary
from campaigner.reports import default_report_dir, export_report
from campaigner.retell import RetellClient
from campaigner.store import make_engine, transaction, upgrade_database
from retell_sim import SimulatorConfig, run_simulator

__all__ = [
    "CAMPAIGN_FILE",
    "CONTACTS_FILE",
    "DEMO_DIR",
    "SIMULATOR",
    "main",
    "print_import",
    "run_demo",
]

DEMO_DIR = Path(".demo")
CAMPAIGN_FILE = Path("campaigns/demo.yaml")
CONTACTS_FILE = Path("sample_data/contacts.csv")
SIMULATOR = SimulatorConfig(speed=60, concurrency_limit=20, cps=16, seed=7)


def run_demo(workdir: Path = DEMO_DIR, console: Console | None = None) -> RunSummary:
    """Run the demo campaign from scratch in `workdir` and return its summary."""
    console = console or Console()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    config = load_campaign(CAMPAIGN_FILE)
    engine = make_engine(f"sqlite:///{workdir / 'campaigner.db'}")
    try:
        upgrade_database(engine)
        with transaction(engine) as session:
            imported = ingest_contacts_file(
                session=session, config=config, path=CONTACTS_FILE, out_dir=workdir / "imports"
            )
        print_import(console, imported)
        with run_simulator(SIMULATOR) as sim:
            console.print(f"Retell simulator running at {sim.base_url} (60x real time)")

            async def dial() -> RunSummary:
                async with RetellClient(api_key=sim.api_key, base_url=sim.base_url) as client:
                    with ProgressDisplay() as display:
                        runner = CampaignRunner(
                            config=config, engine=engine, client=client, on_progress=display
                        )
                        return await runner.run()

            summary = eventloop.run(dial())
        report = export_report(engine, config.name, default_report_dir(config.name))
    finally:
        engine.dispose()
    print_run_summary(summary, console)
    written = ", ".join(path.name for path in report.files)
    console.print(f"Report files in {report.directory}/: {written}")
    for failure in report.failures:
        console.print(f"error: {failure}")
    console.print(f"Everything is stored in {workdir / 'campaigner.db'}.")
    return summary


def print_import(console: Console, imported: IngestSummary) -> None:
    """One line on the demo import, and where the rejected rows are."""
    console.print(
        f"Imported {CONTACTS_FILE}: {imported.rows_read} rows read, {imported.accepted} accepted, "
        f"{imported.rejected_total} rejected"
    )
    if imported.rejected_total:
        console.print(f"Rejected rows, each with its reason: {imported.rejected_file}")


def main() -> None:
    """Entry point of `python -m campaigner.demo`."""
    run_demo()


if __name__ == "__main__":
    main()
