"""One campaign run on the simulator, reported on by every test of this package.

The contacts file has what real files have: extra columns (one whose header starts like a
formula), a cell that is a spreadsheet formula, an invalid number, a duplicate and a number on the
do-not-call list (both rejected). Two agent variants share the contacts; a forced outcome puts a
formula into a custom analysis field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigner.campaign import CampaignConfig, parse_campaign
from campaigner.contacts import ingest_contacts_file
from campaigner.dialer.runner import CampaignRunner, RunOptions
from campaigner.retell import RetellClient
from campaigner.store import make_engine, suppression, upgrade_database
from retell_sim import ForcedOutcome, SimulatorConfig, run_simulator
from tests.store import conftest as store_fixtures

engine = store_fixtures.engine
"""A migrated, empty store on SQLite and on PostgreSQL (the store tests' fixture)."""

CAMPAIGN_YAML = """
name: {name}
variants:
  - {{name: A, agent_id: agent_campaigner_demo, weight: 1}}
  - {{name: B, agent_id: agent_campaigner_demo_b, weight: 1}}
from_numbers: ["+14155550100"]
columns:
  phone: Phone
  external_id: Customer ID
  dynamic_variables: {{first_name: First Name}}
window: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59",
         allow_outside_federal_hours: true}}
caps: {{calls_per_second: 200, max_calls_per_number_per_24h: 10}}
mask_numbers_in_exports: {mask}
"""

CONTACTS = 60
FORMULA = '=HYPERLINK("http://evil.example","click")'
FORCED_NUMBER = "+12125550100"
DNC_NUMBER = "+13125550199"
REPORT_FILES = (
    "contacts.csv",
    "attempts.csv",
    "rejected.csv",
    "report.xlsx",
    "attempts.parquet",
    "report.html",
    "summary.json",
)
"""Every file of a report, in the order `export_report` writes them."""
ANALYSIS_FIELDS = (
    "appointment_confirmed",
    "reschedule_requested",
    "preferred_callback_time",
    "interest_level",
)


@dataclass(frozen=True)
class RunCampaign:
    """A finished campaign in a SQLite store, and what went into it."""

    engine: Engine
    config: CampaignConfig
    contacts_file: Path
    api_key: str
    input_rows: int


def contact_lines() -> list[str]:
    """The contacts file: CONTACTS good rows in three area codes, then three rejected rows."""
    areas = ("212", "312", "415")
    lines = ["Phone,First Name,Customer ID,Notes,@Risk"]
    for n in range(CONTACTS):
        phone = f"+1{areas[n % 3]}55501{n // 3:02d}"
        notes = FORMULA if n == 1 else f"note {n}"
        lines.append(f"{phone},Person{n},C{n:03d},{_quoted(notes)},low")
    lines += [
        "not a number,Nobody,C900,bad,",
        "+12125550100,Again,C901,duplicate of the first row,",
        f"{DNC_NUMBER},Blocked,C902,on the do-not-call list,",
    ]
    return lines


def _quoted(cell: str) -> str:
    escaped = cell.replace('"', '""')
    return f'"{escaped}"'


def run_campaign(tmp: Path, *, mask: bool, name: str) -> RunCampaign:
    engine = make_engine(f"sqlite:///{tmp / 'store.db'}")
    upgrade_database(engine)
    config = parse_campaign(CAMPAIGN_YAML.format(name=name, mask=str(mask).lower()))
    contacts_file = tmp / "contacts.csv"
    lines = contact_lines()
    contacts_file.write_text("\n".join(lines) + "\n")
    sim_config = SimulatorConfig(
        speed=400, concurrency_limit=8, cps=100, seed=7, analysis_delay_s=2
    )
    with run_simulator(sim_config) as sim:
        order = ForcedOutcome(
            to_number=FORCED_NUMBER,
            disconnection_reason="agent_hangup",
            call_successful=True,
            custom_analysis_data={"preferred_callback_time": "=1+2", "interest_level": "high"},
        )
        sim.call(lambda simulator: simulator.force(order))
        with Session(engine) as session:
            suppression.add(session=session, entries=[(DNC_NUMBER, "asked", "test")])
            session.commit()
            ingest_contacts_file(session=session, config=config, path=contacts_file, out_dir=tmp)
            session.commit()

        async def dial() -> None:
            async with RetellClient(api_key=sim.api_key, base_url=sim.base_url) as client:
                options = RunOptions(poll_interval=0.05, concurrency_refresh=0.5)
                await CampaignRunner(
                    config=config, engine=engine, client=client, options=options
                ).run()

        asyncio.run(dial())
        api_key = sim.api_key
    return RunCampaign(engine, config, contacts_file, api_key, input_rows=len(lines) - 1)


@pytest.fixture(scope="package")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunCampaign]:
    run = run_campaign(tmp_path_factory.mktemp("report-campaign"), mask=False, name="report")
    yield run
    run.engine.dispose()


ImportContacts = Callable[[list[str]], Engine]
"""Imports the lines of a contacts file into a new store as the campaign `imported` (nothing is
dialed); returns the store."""


@pytest.fixture
def import_contacts(tmp_path: Path) -> Iterator[ImportContacts]:
    """A store per contacts file, for inputs the simulated run's file does not have: ingest only,
    no simulator, so a test pays for the import alone."""
    engines: list[Engine] = []

    def imported(lines: list[str]) -> Engine:
        folder = tmp_path / f"import-{len(engines)}"
        folder.mkdir()
        engine = make_engine(f"sqlite:///{folder / 'store.db'}")
        engines.append(engine)
        upgrade_database(engine)
        config = parse_campaign(CAMPAIGN_YAML.format(name="imported", mask="false"))
        contacts_file = folder / "contacts.csv"
        contacts_file.write_text("\n".join(lines) + "\n")
        with Session(engine) as session:
            ingest_contacts_file(session=session, config=config, path=contacts_file, out_dir=folder)
            session.commit()
        return engine

    yield imported
    for engine in engines:
        engine.dispose()
