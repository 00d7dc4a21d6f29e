"""`campaigner run`, `pause`, `resume`, `cancel` through typer's runner, against the simulator."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner, Result

from campaigner.cli import app
from campaigner.settings import get_settings
from retell_sim import SimulatorConfig, SimulatorHandle, run_simulator

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


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with run_simulator(SimulatorConfig(speed=500, cps=100, seed=2)) as handle:
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
