"""Campaigns sharing one Retell workspace: creates refused for capacity, and slot utilisation.

    python bench/shared_workspace.py                       # 3 campaigns x 300 contacts, 20 slots
    python bench/shared_workspace.py --campaigns 3 --contacts 500 --concurrency 20

Every campaign's run starts at once against one simulator (in this process, on its own thread)
and one SQLite store, each run with its own client, as runs on several workers would. Printed:

- creates refused for capacity = attempts that ended `concurrency_limit_reached` / creates
- utilisation over the whole run = the simulator's busy slot-seconds / (slots x the virtual span
  from the first run's start to the last run's end)
- the span itself, in virtual seconds, against its lower bound max(calls / CPS, busy / slots)
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from sqlmodel import Session, select

from campaigner.campaign import OutcomeClass, parse_campaign
from campaigner.contacts import ingest_contacts_file
from campaigner.dialer.runner import CampaignRunner, RunOptions, RunSummary
from campaigner.retell import RetellClient
from campaigner.store import CallAttempt, Engine, make_engine, transaction, upgrade_database
from retell_sim import SimulatorConfig, SimulatorHandle, run_simulator

CAMPAIGN = """
name: {name}
agent: {{agent_id: agent_campaigner_demo}}
from_numbers: ["+14155550100"]
columns: {{phone: phone}}
window: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59",
         allow_outside_federal_hours: true}}
caps: {{calls_per_second: 50, max_calls_per_number_per_24h: 100}}
"""
AREAS = ("212", "310", "312", "415", "617", "702", "713", "808", "907", "602")


def import_contacts(engine: Engine, folder: Path, name: str, index: int, count: int) -> None:
    area = AREAS[index % len(AREAS)]
    rows = "".join(f"+1{area}555{line:04d}\n" for line in range(count))
    path = folder / f"{name}.csv"
    path.write_text("phone\n" + rows)
    with transaction(engine) as session:
        ingest_contacts_file(
            session=session,
            config=parse_campaign(CAMPAIGN.format(name=name)),
            path=path,
            out_dir=folder / "out",
        )


async def run_all(sim: SimulatorHandle, engine: Engine, names: list[str]) -> list[RunSummary]:
    async def run_one(name: str) -> RunSummary:
        config = parse_campaign(CAMPAIGN.format(name=name))
        async with RetellClient(api_key=sim.api_key, base_url=sim.base_url) as client:
            options = RunOptions(poll_interval=0.2, concurrency_refresh=2.0)
            runner = CampaignRunner(config=config, engine=engine, client=client, options=options)
            return await runner.run()

    return list(await asyncio.gather(*(run_one(name) for name in names)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--campaigns", type=int, default=3)
    parser.add_argument("--contacts", type=int, default=300, help="per campaign")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--cps", type=float, default=5.0)
    parser.add_argument("--speed", type=float, default=50.0)
    args = parser.parse_args()
    config = SimulatorConfig(
        speed=args.speed, concurrency_limit=args.concurrency, cps=args.cps, seed=1
    )
    names = [f"campaign-{index}" for index in range(args.campaigns)]
    with tempfile.TemporaryDirectory() as tmp, run_simulator(config) as sim:
        folder = Path(tmp)
        engine = make_engine(f"sqlite:///{folder / 'store.db'}")
        upgrade_database(engine)
        for index, name in enumerate(names):
            import_contacts(engine, folder, name, index, args.contacts)
        start_virtual = sim.stats()["elapsed_virtual_seconds"]
        started = time.monotonic()
        summaries = asyncio.run(run_all(sim, engine, names))
        wall = time.monotonic() - started
        stats = sim.stats()
        with Session(engine) as session:
            attempts = list(session.exec(select(CallAttempt)))
        engine.dispose()
    creates = len(attempts)
    refused = sum(1 for attempt in attempts if attempt.outcome_class == OutcomeClass.CAPACITY)
    span = float(stats["elapsed_virtual_seconds"]) - float(start_virtual)
    busy = float(stats["busy_slot_seconds"])
    calls = int(stats["calls_created"])
    bound = max(calls / args.cps, busy / args.concurrency)
    print(f"campaigns x contacts:           {args.campaigns} x {args.contacts}")
    print(f"slots, CPS, speed:              {args.concurrency}, {args.cps:g}, {args.speed:g}x")
    print(f"creates:                        {creates}")
    print(f"refused for capacity:           {refused} ({100 * refused / max(creates, 1):.2f} %)")
    print(f"peak concurrency:               {stats['peak_concurrency']}")
    print(f"utilisation over the whole run: {100 * busy / (args.concurrency * span):.1f} %")
    print(f"virtual span / lower bound:     {span:.0f} s / {bound:.0f} s = {span / bound:.2f}")
    print(f"wall time:                      {wall:.1f} s")
    print("stop reasons:                   " + "; ".join(s.stop_reason for s in summaries))


if __name__ == "__main__":
    main()
