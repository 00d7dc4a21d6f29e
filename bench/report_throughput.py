"""Report generation for a campaign of 100,000 contacts and 150,000 call attempts.

1. Builds (seeded) a temp SQLite store through the store's bulk functions: 100,000 contacts in four
   US time zones split between variants A and B, each with its input columns; one attempt each
   and a second for half of them (150,000), with realistic outcomes, durations, costs, latencies,
   sentiment, summaries, recording and log URLs and four custom analysis fields.
2. Runs `export_report` for every format in a child process, so the peak RSS (`ru_maxrss`) is the
   report's alone, and prints its seconds, peak RSS and the size of each file.

Targets (docs/reports.md): under 30 s and under 1 GB.

    .venv/bin/python bench/report_throughput.py [--contacts 100000] [--attempts 150000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlmodel import Session

from campaigner import store
from campaigner.campaign import CampaignConfig
from campaigner.store import campaigns, imports, make_engine, upgrade_database
from campaigner.store.backfill import insert_attempt_columns

SEED = 11
CAMPAIGN = "bench-report"
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles")
AREAS = (212, 312, 303, 415)
# (outcome class, disconnection reason, call status, share of attempts)
OUTCOMES = (
    ("success", "agent_hangup", "ended", 0.30),
    ("connected_unsuccessful", "user_hangup", "ended", 0.14),
    ("callback_requested", "user_requested_callback", "ended", 0.03),
    ("dnc_request", "user_requested_dnc", "ended", 0.02),
    ("voicemail", "voicemail_reached", "ended", 0.20),
    ("no_answer", "dial_no_answer", "not_connected", 0.20),
    ("busy", "dial_busy", "not_connected", 0.06),
    ("transient_failure", "dial_failed", "not_connected", 0.05),
)
CONNECTED = {"success", "connected_unsuccessful", "callback_requested", "dnc_request"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--attempts", type=int, default=150_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        export(args.child)
        return
    if not args.contacts <= args.attempts <= 2 * args.contacts:
        parser.error("--attempts must be between --contacts and twice --contacts")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        build_store(work / "store.db", args.contacts, args.attempts)
        print(f"store built in {time.perf_counter() - started:.1f} s", flush=True)
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(work)],
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(child.stdout)
    print(
        f"export_report, every format: {figures['seconds']:.1f} s, "
        f"peak RSS {figures['peak_rss_mb']:.0f} MB "
        f"({args.contacts:,} contacts, {args.attempts:,} attempts)"
    )
    for name, size in figures["files"].items():
        print(f"  {name:<18} {size / 1e6:7.1f} MB")
    print(json.dumps(figures))


def build_store(path: Path, contacts: int, attempts: int) -> None:
    rng = np.random.default_rng(SEED)
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    config = CampaignConfig.model_validate(
        {
            "name": CAMPAIGN,
            "variants": [
                {"name": "A", "agent_id": "agent_a", "weight": 1},
                {"name": "B", "agent_id": "agent_b", "weight": 1},
            ],
            "from_numbers": ["+14155550100"],
            "columns": {"phone": "Phone", "external_id": "Customer ID"},
        }
    )
    zone_index = rng.integers(0, len(ZONES), contacts)
    numbers = [
        f"+1{AREAS[zone]}555{line:04d}" if n < 40_000 else f"+1{AREAS[zone]}{2000000 + n:07d}"
        for n, (zone, line) in enumerate(zip(zone_index, range(contacts), strict=True))
    ]
    variants = np.where(rng.random(contacts) < 0.5, "A", "B").tolist()
    ids = [f"C{n:06d}" for n in range(contacts)]
    with Session(engine) as session:
        campaign = campaigns.upsert(session=session, config=config)
        source = imports.create_file(
            session=session, campaign_id=campaign.id or 0, path="contacts.csv", sha256="0" * 64
        )
        source_id = source.id or 0
        store.contacts.insert_columns(
            session=session,
            columns={
                "campaign_id": [campaign.id] * contacts,
                "source_file_id": [source_id] * contacts,
                "row_number": list(range(2, contacts + 2)),
                "phone_e164": numbers,
                "timezones": [[ZONES[zone]] for zone in zone_index],
                "country": ["US"] * contacts,
                "external_id": ids,
                "variant": variants,
                "original": [
                    {
                        "Phone": number,
                        "First Name": f"Pat{n}",
                        "Customer ID": ids[n],
                        "Clinic": f"Clinic {n % 40}",
                    }
                    for n, number in enumerate(numbers)
                ],
            },
        )
        imports.set_counts(
            session=session,
            source_file_id=source_id,
            rows_read=contacts,
            accepted=contacts,
            rejected=0,
            duplicates=0,
            suppressed=0,
        )
        insert_attempt_columns(
            session=session,
            columns=attempt_columns(rng, campaign.id or 0, numbers, variants, attempts),
        )
        session.commit()
    engine.dispose()


def attempt_columns(
    rng: np.random.Generator, campaign_id: int, numbers: list[str], variants: list[str], count: int
) -> dict[str, list[object]]:
    contacts = len(numbers)
    contact_index = np.concatenate([np.arange(contacts), np.arange(count - contacts)])
    attempt_number = np.concatenate([np.ones(contacts, int), np.full(count - contacts, 2)])
    shares = np.array([share for *_, share in OUTCOMES])
    kind = rng.choice(len(OUTCOMES), size=count, p=shares / shares.sum())
    outcome = [OUTCOMES[k][0] for k in kind]
    connected = np.array([name in CONNECTED for name in outcome])
    answered = connected | (kind == 4)
    duration_ms = np.where(answered, rng.lognormal(np.log(75_000), 0.5, count), 0).astype(int)
    start = pd.Timestamp(datetime(2026, 3, 2, 14, tzinfo=UTC)) + pd.to_timedelta(
        rng.integers(0, 3 * 86_400, count), unit="s"
    )
    call_ids = [f"call_{n:028x}" for n in range(count)]
    sentiment = np.where(
        connected, rng.choice(["Positive", "Neutral", "Negative"], count), "Unknown"
    )
    return {
        "campaign_id": [campaign_id] * count,
        "contact_id": (contact_index + 1).tolist(),
        "attempt_number": attempt_number.tolist(),
        "idempotency_key": [f"campaigner-{n:032x}" for n in range(count)],
        "retell_call_id": call_ids,
        "variant": [variants[i] for i in contact_index],
        "agent_id": [f"agent_{variants[i].lower()}" for i in contact_index],
        "agent_version": [3] * count,
        "from_number": ["+14155550100"] * count,
        "to_number": [numbers[i] for i in contact_index],
        "state": [OUTCOMES[k][2] for k in kind],
        "outcome_class": outcome,
        "disconnection_reason": [OUTCOMES[k][1] for k in kind],
        "created_at": (start - pd.Timedelta(seconds=5)).to_pydatetime().tolist(),
        "start_timestamp": start.to_pydatetime().tolist(),
        "end_timestamp": (start + pd.to_timedelta(duration_ms, unit="ms")).to_pydatetime().tolist(),
        "duration_ms": duration_ms.tolist(),
        "cost_cents": np.round(duration_ms / 1000 * 0.1217, 4).tolist(),
        "latency_e2e_p50_ms": np.where(connected, rng.normal(800, 120, count), np.nan).tolist(),
        "latency_e2e_p90_ms": np.where(connected, rng.normal(1300, 200, count), np.nan).tolist(),
        "call_successful": [name == "success" for name in outcome],
        "user_sentiment": sentiment.tolist(),
        "in_voicemail": (kind == 4).tolist(),
        "call_summary": [
            f"The agent spoke with the patient about appointment {n}; outcome: {name}."
            for n, name in enumerate(outcome)
        ],
        "custom_analysis": [
            {
                "appointment_confirmed": name == "success",
                "reschedule_requested": name == "callback_requested",
                "preferred_callback_time": "tomorrow 3pm" if name == "callback_requested" else "",
                "interest_level": ("high", "medium", "low")[n % 3],
            }
            if is_connected
            else {}
            for n, (name, is_connected) in enumerate(zip(outcome, connected, strict=True))
        ],
        "recording_url": [f"https://recordings.example.invalid/{c}.wav" for c in call_ids],
        "public_log_url": [f"https://logs.example.invalid/{c}.log" for c in call_ids],
    }


def export(work: Path) -> None:
    from campaigner.reports import export_report

    engine = make_engine(f"sqlite:///{work / 'store.db'}")
    started = time.perf_counter()
    report = export_report(engine, CAMPAIGN, work / "report")
    seconds = time.perf_counter() - started
    engine.dispose()
    if report.failures:
        # export_report reports a failed format instead of raising: timing a report with a format
        # missing would flatter it.
        raise SystemExit("; ".join(str(failure) for failure in report.failures))
    figures = {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "files": {path.name: path.stat().st_size for path in report.files},
        "contacts": report.headline.funnel.contacts,
        "attempts": report.headline.attempts.total,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
