"""`campaigner run`, `pause`, `resume`, `cancel` through typer's runner, against the simulator."""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from campaigner.campaign import parse_campaign
from campaigner.cli import app
from campaigner.settings import get_settings
from campaigner.store import (
    campaigns,
    make_engine,
    session_factory,
    transaction,
    upgrade_database,
    utcnow,
)
from retell_sim import ForcedOutcome, SimulatorConfig, SimulatorHandle, run_simulator
from tests.dialer.processes import RUN_TIMEOUT, Processes, base_env, wait_for
from tests.store.factories import claim, mark_attempt_sent, write_attempt

REPO = Path(__file__).resolve().parents[2]
CAMPAIGN = """
name: cli
agent: {agent_id: agent_campaigner_demo}
from_numbers: ["+14155550100"]
columns: {phone: phone}
window: {days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59",
         allow_outside_federal_hours: true}
caps: {calls_per_second: 100}
"""
NAMED_COLUMNS = "columns: {phone: phone, dynamic_variables: {first_name: first_name}}"


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[SimulatorHandle]:
    """Virtual seconds per real second: 500, or what the test gives (indirect parametrize)."""
    speed = getattr(request, "param", 500)
    with run_simulator(SimulatorConfig(speed=speed, cps=100, seed=2)) as handle:
        yield handle


@pytest.fixture
def runner(
    sim: SimulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("RETELL_BASE_URL", sim.base_url)
    monkeypatch.setenv("RETELL_API_KEY", sim.api_key)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cli.yaml").write_text(CAMPAIGN)
    phones = "".join(f"+121255501{n:02d}\n" for n in range(12))
    (tmp_path / "contacts.csv").write_text("phone\n" + phones)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_run_imports_dials_and_prints_one_json_summary(
    runner: CliRunner, sim: SimulatorHandle
) -> None:
    result = runner.invoke(app, ["run", "cli.yaml", "--contacts", "contacts.csv", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["campaign"] == "cli"
    assert summary["calls_placed"] == 12
    assert summary["counts"]["contacts"] == 12
    assert summary["counts"]["attempts"] == 12
    assert sim.stats()["calls_created"] == 12


def test_run_prints_a_readable_summary(runner: CliRunner) -> None:
    result = runner.invoke(app, ["run", "cli.yaml", "--contacts", "contacts.csv"])
    assert result.exit_code == 0, result.output
    assert "calls placed this run" in result.stdout
    assert "nothing is due now" in result.stdout


def test_paused_campaign_is_not_dialed_until_resumed(
    runner: CliRunner, sim: SimulatorHandle
) -> None:
    assert runner.invoke(app, ["ingest", "cli.yaml", "contacts.csv"]).exit_code == 0
    paused = runner.invoke(app, ["pause", "cli", "--reason", "client asked"])
    assert paused.exit_code == 0
    assert "campaign cli is paused." in paused.output
    first = runner.invoke(app, ["run", "cli.yaml", "--json"])
    assert json.loads(first.stdout)["calls_placed"] == 0
    assert sim.stats()["calls_created"] == 0
    assert runner.invoke(app, ["resume", "cli"]).exit_code == 0
    second = runner.invoke(app, ["run", "cli.yaml", "--json"])
    assert json.loads(second.stdout)["calls_placed"] == 12


def test_cancel_is_final(runner: CliRunner) -> None:
    assert runner.invoke(app, ["ingest", "cli.yaml", "contacts.csv"]).exit_code == 0
    assert runner.invoke(app, ["cancel", "cli"]).exit_code == 0
    again = runner.invoke(app, ["resume", "cli"])
    assert again.exit_code == 2
    assert "cancelled" in again.output
    assert "Traceback" not in again.output


def test_unknown_campaign_and_unreachable_retell_are_clear_errors(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["ingest", "cli.yaml", "contacts.csv"]).exit_code == 0
    missing = runner.invoke(app, ["pause", "nope"])
    assert missing.exit_code == 2
    assert "no campaign named 'nope'" in missing.output
    monkeypatch.setenv("RETELL_BASE_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    down = runner.invoke(app, ["run", "cli.yaml"])
    assert down.exit_code == 2
    assert "Retell at http://127.0.0.1:9" in down.output
    assert "Traceback" not in down.output


def test_wrong_key_is_reported_without_the_key(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETELL_API_KEY", "key_wrong_secret_value")
    get_settings.cache_clear()
    result = runner.invoke(app, ["run", "cli.yaml", "--contacts", "contacts.csv"])
    assert result.exit_code == 2
    # The check before the first dial finds it, and says which setting to fix.
    assert "✗ API key: refused by" in result.output
    assert "fix: set RETELL_API_KEY to an API key of this workspace" in result.output
    assert "key_wrong_secret_value" not in result.output


# The key with the webhook badge in the simulated workspace's dashboard: not the API key.
WEBHOOK_BADGE_KEY = "key_webhook_badge_secret"


@dataclass
class WebhookRun:
    result: Result
    stats: dict[str, Any]
    api_key: str
    port: int


def run_with_a_webhook_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str, webhook_key_setting: str | None
) -> WebhookRun:
    """`campaigner run --webhook-port` on two contacts, the simulator signing its webhooks with
    its webhook-badge key, and RETELL_WEBHOOK_API_KEY set to `webhook_key_setting` (None:
    unset)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = SimulatorConfig(
        speed=500,
        cps=100,
        seed=2,
        account_webhook_url=f"http://127.0.0.1:{port}/retell/webhook",
        webhook_api_key=SecretStr(WEBHOOK_BADGE_KEY),
    )
    with run_simulator(config) as sim:
        monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
        monkeypatch.setenv("RETELL_BASE_URL", sim.base_url)
        monkeypatch.setenv("RETELL_API_KEY", sim.api_key)
        if webhook_key_setting is None:
            monkeypatch.delenv("RETELL_WEBHOOK_API_KEY", raising=False)
        else:
            monkeypatch.setenv("RETELL_WEBHOOK_API_KEY", webhook_key_setting)
        monkeypatch.chdir(tmp_path)
        (tmp_path / "cli.yaml").write_text(CAMPAIGN)
        (tmp_path / "contacts.csv").write_text("phone\n+12125550100\n+12125550101\n")
        get_settings.cache_clear()
        command = ["run", "cli.yaml", "--contacts", "contacts.csv", "--webhook-port", str(port)]
        result = CliRunner().invoke(app, [*command, *args])
        get_settings.cache_clear()
        return WebhookRun(result=result, stats=sim.stats(), api_key=sim.api_key, port=port)


def test_run_with_a_webhook_port_receives_results_signed_with_the_webhook_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_with_a_webhook_port(tmp_path, monkeypatch, webhook_key_setting=WEBHOOK_BADGE_KEY)
    assert run.result.exit_code == 0, run.result.output
    url = f"http://127.0.0.1:{run.port}/retell/webhook"
    assert f"Receiving Retell webhooks at {url}" in run.result.output
    assert run.stats["webhook_events"] > 0
    assert run.stats["webhook_deliveries"] == run.stats["webhook_events"]
    assert run.stats["webhook_failures"] == 0


@pytest.mark.slow
def test_run_without_the_webhook_key_settles_by_polling_and_says_what_to_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The run's default polling (every 10 s beside webhooks) brings every result home."""
    caplog.set_level(logging.DEBUG)
    run = run_with_a_webhook_port(tmp_path, monkeypatch, "--json", webhook_key_setting=None)
    assert run.result.exit_code == 0, run.result.output
    summary = json.loads(run.result.stdout)
    assert summary["calls_finished"] == 2
    assert "dialing" not in summary["counts"]["contacts_by_status"]
    assert run.stats["webhook_deliveries"] == 0
    advice = [r for r in caplog.records if "RETELL_WEBHOOK_API_KEY" in r.getMessage()]
    assert len(advice) == 1
    for key in (run.api_key, WEBHOOK_BADGE_KEY):
        assert key not in run.result.output
        assert key not in caplog.text


def test_batch_mode_runs_through_the_cli_and_status_shows_its_batches(
    runner: CliRunner, sim: SimulatorHandle, tmp_path: Path
) -> None:
    (tmp_path / "batch.yaml").write_text(
        CAMPAIGN.replace("name: cli", "name: cli-batch") + "mode: batch\nbatch: {size: 5}\n"
    )
    result = runner.invoke(app, ["run", "batch.yaml", "--contacts", "contacts.csv", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["calls_placed"] == 12
    assert summary["counts"]["attempts"] == 12
    assert "dialing" not in summary["counts"]["contacts_by_status"]
    assert sim.stats()["calls_created"] == 12
    assert sim.stats()["batches"] == 3

    status = runner.invoke(app, ["status", "cli-batch", "--json"])
    assert status.exit_code == 0, status.output
    (campaign,) = json.loads(status.stdout)["campaigns"]
    assert campaign["mode"] == "batch"
    assert [b["submitted"] for b in campaign["batches"]] == [5, 5, 2]
    assert all(b["finished"] == b["dialed"] == b["submitted"] for b in campaign["batches"])


def test_audit_finds_the_calls_and_attempts_one_to_one_and_names_a_stray_call(
    runner: CliRunner, sim: SimulatorHandle, tmp_path: Path
) -> None:
    ran = runner.invoke(app, ["run", "cli.yaml", "--contacts", "contacts.csv", "--json"])
    assert ran.exit_code == 0, ran.output

    clean = runner.invoke(app, ["audit", "cli", "--json"])
    assert clean.exit_code == 0, clean.output
    audit = json.loads(clean.stdout)
    assert (audit["calls_at_retell"], audit["attempts_with_a_call"]) == (12, 12)
    assert "✓ exactly once" in runner.invoke(app, ["audit", "cli"]).stdout

    # A second call for attempt 3, placed behind the store's back (a fresh key).
    with httpx.Client(
        base_url=sim.base_url, headers={"Authorization": f"Bearer {sim.api_key}"}
    ) as http:
        placed = http.post(
            "/v2/create-phone-call",
            json={
                "from_number": "+14155550100",
                "to_number": "+12125550103",
                "metadata": {"campaign": "cli", "attempt": "3"},
            },
        )
    assert placed.status_code == 201
    stray = placed.json()["call_id"]

    found = runner.invoke(app, ["audit", "cli", "--json"])
    assert found.exit_code == 1
    audit = json.loads(found.stdout)
    assert audit["calls_without_attempt"] == [stray]
    assert list(audit["attempts_with_several_calls"]) == ["3"]
    assert stray in audit["attempts_with_several_calls"]["3"]
    shown = runner.invoke(app, ["audit", "cli"]).stdout
    assert "✗ 1 calls at Retell on no attempt" in shown


# 50 virtual minutes: five real minutes at speed 10, far longer than the test.
LONG_CALL = 3_000_000
IN_PROGRESS = ["+12125550100", "+12125550101", "+12125550102"]


def call_ends(sim: SimulatorHandle) -> list[tuple[str, str | None]]:
    """Each of the simulator's calls: its status and disconnection reason, in creation order."""
    return sim.call(lambda s: [(call.call_status, call.disconnection_reason) for call in s.calls])


def calls_on_record(database: Path) -> int:
    with closing(sqlite3.connect(database)) as connection:
        query = "SELECT count(*) FROM call_attempt WHERE retell_call_id IS NOT NULL"
        (count,) = connection.execute(query).fetchone()
    return int(count)


@pytest.mark.parametrize("sim", [10], indirect=True)
def test_cancel_lets_calls_in_progress_talk_and_cancel_hang_up_ends_them(
    runner: CliRunner, sim: SimulatorHandle, tmp_path: Path, processes: Processes
) -> None:
    (tmp_path / "contacts.csv").write_text("phone\n" + "".join(f"{n}\n" for n in IN_PROGRESS))
    for number in IN_PROGRESS:
        order = ForcedOutcome(
            to_number=number, disconnection_reason="agent_hangup", duration_ms=LONG_CALL
        )
        sim.call(lambda s, order=order: s.force(order))
    assert runner.invoke(app, ["ingest", "cli.yaml", "contacts.csv"]).exit_code == 0
    env = {
        **base_env(),
        "CAMPAIGNER_DATABASE_URL": os.environ["CAMPAIGNER_DATABASE_URL"],
        "RETELL_BASE_URL": sim.base_url,
        "RETELL_API_KEY": sim.api_key,
    }
    run = processes.start(["run", "cli.yaml", "--json"], name="run", env=env)
    talking = [("ongoing", None)] * 3
    wait_for(lambda: call_ends(sim) == talking, timeout=RUN_TIMEOUT, what="3 calls in progress")
    wait_for(lambda: calls_on_record(tmp_path / "cli.db") == 3, timeout=RUN_TIMEOUT, what="ids")

    cancelled = runner.invoke(app, ["cancel", "cli"])
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.output == "campaign cli is cancelled.\n"
    assert call_ends(sim) == talking

    hung_up = runner.invoke(app, ["cancel", "cli", "--hang-up"])
    assert hung_up.exit_code == 0, hung_up.output
    assert hung_up.output == "cancelled cli; hung up 3 live calls (0 had already ended)\n"
    assert call_ends(sim) == [("ended", "manual_stopped")] * 3
    # The run still going syncs the stopped calls, and stops once they are settled.
    assert run.wait(timeout=RUN_TIMEOUT) == 0, processes.output("run")[1]
    counts = json.loads(processes.output("run")[0])["counts"]
    assert counts["contacts_by_status"] == {"done": 3}
    assert counts["final_outcomes"] == {"connected_unsuccessful": 3}


def test_a_hang_up_that_fails_is_one_line_and_the_campaign_is_cancelled_all_the_same(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(app, ["ingest", "cli.yaml", "contacts.csv"]).exit_code == 0
    engine = make_engine(os.environ["CAMPAIGNER_DATABASE_URL"])
    with session_factory(engine)() as session:
        campaign = campaigns.get_by_name(session=session, name="cli")
        assert campaign is not None
        (contact, *_) = claim(session, campaign, now=utcnow())
        attempt = write_attempt(session, contact)
        mark_attempt_sent(session=session, attempt_id=attempt.id or 0, retell_call_id="call_1")
    engine.dispose()
    monkeypatch.setenv("RETELL_API_KEY", "key_wrong_secret_value")
    get_settings.cache_clear()

    refused = runner.invoke(app, ["cancel", "cli", "--hang-up"])

    assert refused.exit_code == 2
    (line,) = refused.output.splitlines()
    assert line.startswith("error: campaign cli is cancelled, but its calls in progress were not")
    assert "refused the key in RETELL_API_KEY (Retell answered 401" in line
    assert line.endswith("to try again, run `campaigner cancel cli --hang-up`")
    assert "key_wrong_secret_value" not in refused.output
    monkeypatch.setenv("RETELL_BASE_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()

    down = runner.invoke(app, ["cancel", "cli", "--hang-up"])

    assert down.exit_code == 2
    (line,) = down.output.splitlines()
    assert "cannot reach Retell at http://127.0.0.1:9 (POST /v2/stop-call/call_1 failed" in line
    status = json.loads(runner.invoke(app, ["status", "cli", "--json"]).stdout)
    assert status["campaigns"][0]["status"] == "cancelled"


def test_a_test_call_rings_your_phone_as_a_contact_and_counts_for_nothing(
    runner: CliRunner, sim: SimulatorHandle, tmp_path: Path
) -> None:
    (tmp_path / "named.csv").write_text("phone,first_name\n+12125550111,Ada\n+12125550112,Grace\n")
    named = CAMPAIGN.replace("columns: {phone: phone}", NAMED_COLUMNS)
    (tmp_path / "cli.yaml").write_text(named)
    ingested = runner.invoke(app, ["ingest", "cli.yaml", "named.csv"])
    assert ingested.exit_code == 0, ingested.output
    order = ForcedOutcome(
        to_number="+14155550123", disconnection_reason="agent_hangup", call_successful=True
    )
    sim.call(lambda simulator: simulator.force(order))

    called = runner.invoke(app, ["test-call", "cli.yaml", "--to", "(415) 555-0123"])

    assert called.exit_code == 0, called.output
    assert "calling +14155550123 from +14155550100 as contact 1 of cli" in called.stdout
    assert "ended: agent_hangup; successful: yes" in called.stdout
    with httpx.Client(
        base_url=sim.base_url, headers={"Authorization": f"Bearer {sim.api_key}"}
    ) as http:
        (call,) = http.post("/v3/list-calls", json={}).json()["items"]
    assert call["retell_llm_dynamic_variables"]["first_name"] == "Ada"
    assert "campaign" not in call["metadata"]
    with closing(sqlite3.connect(tmp_path / "cli.db")) as db:
        assert db.execute("SELECT count(*) FROM call_attempt").fetchone() == (0,)
    audited = runner.invoke(app, ["audit", "cli", "--json"])
    assert audited.exit_code == 0, audited.output


def test_a_test_call_for_a_campaign_without_contacts_is_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    upgrade_database(engine)
    with transaction(engine) as session:
        campaigns.upsert(session=session, config=parse_campaign(CAMPAIGN))
    engine.dispose()
    called = runner.invoke(app, ["test-call", "cli.yaml", "--to", "+14155550123"])
    assert called.exit_code == 2
    assert "has no contacts yet" in called.output


def test_a_dry_run_says_who_would_be_dialed_by_group_and_dials_nobody(
    runner: CliRunner, sim: SimulatorHandle, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["ingest", "cli.yaml", "contacts.csv"]).exit_code == 0

    text = runner.invoke(app, ["run", "cli.yaml", "--dry-run"])
    as_json = runner.invoke(app, ["run", "cli.yaml", "--dry-run", "--json"])

    assert text.exit_code == 0, text.output
    assert "dry run: nobody is dialed" in text.stdout
    assert "now, " in text.stdout
    assert "New York time (12 contacts)" in text.stdout
    groups = json.loads(as_json.stdout)["groups"]
    assert [(g["zones"], g["due"]) for g in groups] == [(["America/New_York"], 12)]
    assert sim.stats()["calls_created"] == 0
    with closing(sqlite3.connect(tmp_path / "cli.db")) as db:
        assert db.execute("SELECT count(*) FROM call_attempt").fetchone() == (0,)
    refused = runner.invoke(app, ["run", "cli.yaml", "--dry-run", "--contacts", "contacts.csv"])
    assert refused.exit_code == 2
    assert "writes nothing" in refused.output


def test_status_and_a_finished_run_say_when_the_next_calls_go_out(runner: CliRunner) -> None:
    assert runner.invoke(app, ["ingest", "cli.yaml", "contacts.csv"]).exit_code == 0
    paused = runner.invoke(app, ["pause", "cli", "--reason", "waiting for the script"])
    assert paused.exit_code == 0, paused.output

    status = runner.invoke(app, ["status", "cli"])

    assert "No calls go out: campaign cli is paused (waiting for the script)" in status.stdout
    assert runner.invoke(app, ["resume", "cli"]).exit_code == 0
    ran = runner.invoke(app, ["run", "cli.yaml"])
    assert ran.exit_code == 0, ran.output
    assert "next calls" in ran.stdout
