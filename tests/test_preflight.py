"""`campaigner check`, and the same checks before `campaigner run` dials, against the simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaigner.campaign import parse_campaign
from campaigner.cli import app
from campaigner.preflight import run_checks
from campaigner.retell import RetellClient
from campaigner.settings import get_settings
from campaigner.store import make_engine
from retell_sim import SimulatorConfig, SimulatorHandle, run_simulator
from retell_sim.demo import DEMO_AGENT_B_ID, DEMO_AGENT_ID, DEMO_FROM_NUMBERS
from tests.dialer.fakes import FakeClock

GOOD = f"""
name: preflight
variants:
  - {{name: A, agent_id: {DEMO_AGENT_ID}, weight: 1}}
  - {{name: B, agent_id: {DEMO_AGENT_B_ID}, weight: 1}}
from_numbers: {json.dumps(list(DEMO_FROM_NUMBERS))}
columns: {{phone: phone}}
window: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59",
         allow_outside_federal_hours: true}}
caps: {{calls_per_second: 100, max_concurrency: 5}}
"""
# A number the workspace does not have, an agent it does not have, a version the agent lacks.
BROKEN = f"""
name: broken
variants:
  - {{name: A, agent_id: {DEMO_AGENT_ID}, version: 7, weight: 1}}
  - {{name: B, agent_id: agent_nobody_made, weight: 1}}
from_numbers: ["{DEMO_FROM_NUMBERS[0]}", "+14155550199"]
columns: {{phone: phone}}
"""


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with run_simulator(SimulatorConfig(speed=500, cps=100, seed=2)) as handle:
        yield handle


@pytest.fixture
def runner(
    sim: SimulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", f"sqlite:///{tmp_path / 'preflight.db'}")
    monkeypatch.setenv("RETELL_BASE_URL", sim.base_url)
    monkeypatch.setenv("RETELL_API_KEY", sim.api_key)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "broken.yaml").write_text(BROKEN)
    (tmp_path / "contacts.csv").write_text("phone\n+12125550100\n+12125550101\n")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def checks_by_topic(output: str) -> dict[str, dict[str, str]]:
    return {check["topic"]: check for check in json.loads(output)["checks"]}


def gets(sim: SimulatorHandle, endpoint: str) -> int:
    return sim.stats()["requests_by_endpoint"].get(f"GET /{endpoint}", 0)


def test_a_sound_campaign_passes_every_check(runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", "good.yaml", "--json"])
    assert result.exit_code == 0, result.output
    checklist = json.loads(result.stdout)
    assert checklist["ok"] is True
    assert checklist["blockers"] == []
    checks = checks_by_topic(result.stdout)
    passed = [topic for topic, check in checks.items() if check["mark"] == "passed"]
    numbers = [f"from number {number}" for number in DEMO_FROM_NUMBERS]
    assert passed == ["API key", *numbers, "variant A", "variant B", "concurrency"]
    assert checks["variant A"]["found"] == f"{DEMO_AGENT_ID} (Appointment confirmation (A))"
    assert checks["concurrency"]["found"].endswith("up to 5 calls at once")
    assert checks["variant A webhooks"]["mark"] == "info"


def test_a_broken_campaign_names_each_problem_with_its_fix(runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", "broken.yaml"])
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0].endswith("3 problems to fix before it can dial")
    assert f"✓ from number {DEMO_FROM_NUMBERS[0]}: in the workspace, can call out" in lines
    unknown_number = lines.index(
        "✗ from number +14155550199: is not a number of this Retell workspace"
    )
    assert lines[unknown_number + 1].startswith("    fix: buy or import it in the Retell dashboard")
    assert f"✗ variant A: agent {DEMO_AGENT_ID} has no version 7" in lines
    assert "✗ variant B: agent agent_nobody_made is not in this Retell workspace" in lines


def test_a_campaign_file_that_cannot_be_read_is_one_line(runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", "missing.yaml", "--json"])
    assert result.exit_code == 2
    assert result.output == "error: missing.yaml: no such campaign file\n"


def test_the_json_checklist_lists_the_blockers(runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", "broken.yaml", "--json"])
    assert result.exit_code == 2
    checklist = json.loads(result.stdout)
    assert checklist["ok"] is False
    assert [check["topic"] for check in checklist["blockers"]] == [
        "from number +14155550199",
        "variant A",
        "variant B",
    ]
    assert all(check["fix"] for check in checklist["blockers"])


def test_a_refused_key_names_the_setting_and_never_the_key(
    runner: CliRunner, sim: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = "key_refused_by_the_simulator"
    monkeypatch.setenv("RETELL_API_KEY", refused)
    get_settings.cache_clear()
    result = runner.invoke(app, ["check", "good.yaml", "--json"])
    assert result.exit_code == 2
    checks = checks_by_topic(result.stdout)
    assert checks["API key"]["mark"] == "failed"
    assert checks["API key"]["fix"].startswith("set RETELL_API_KEY to an API key of this workspace")
    # Nothing else is asked of Retell once it refuses the key.
    assert not any(topic.startswith(("from number", "variant")) for topic in checks)
    assert gets(sim, "get-phone-number/{phone_number}") == 0
    assert refused not in result.output


def test_a_run_of_a_broken_campaign_exits_2_with_the_checklist_and_dials_nobody(
    runner: CliRunner, sim: SimulatorHandle, tmp_path: Path
) -> None:
    # Only the version is wrong, which the simulator would still dial: only the checks stop it.
    agent_a = f"agent_id: {DEMO_AGENT_ID}, weight"
    wrong_version = GOOD.replace(agent_a, f"agent_id: {DEMO_AGENT_ID}, version: 7, weight")
    (tmp_path / "good.yaml").write_text(wrong_version)
    result = runner.invoke(app, ["run", "good.yaml", "--contacts", "contacts.csv", "--json"])
    assert result.exit_code == 2
    checklist = json.loads(result.stdout)
    assert [check["topic"] for check in checklist["blockers"]] == ["variant A"]
    assert checks_by_topic(result.stdout)["contacts"]["found"].startswith("2 can be called now")
    assert sim.stats()["calls_created"] == 0


def test_a_run_checks_a_version_of_the_campaign_once(
    runner: CliRunner, sim: SimulatorHandle
) -> None:
    number_reads = "get-phone-number/{phone_number}"
    first = runner.invoke(app, ["run", "good.yaml", "--contacts", "contacts.csv", "--json"])
    assert first.exit_code == 0, first.output
    assert sim.stats()["calls_created"] == 2
    assert gets(sim, number_reads) == len(DEMO_FROM_NUMBERS)
    again = runner.invoke(app, ["run", "good.yaml", "--json"])
    assert again.exit_code == 0, again.output
    assert gets(sim, number_reads) == len(DEMO_FROM_NUMBERS)
    forced = runner.invoke(app, ["run", "good.yaml", "--json", "--recheck"])
    assert forced.exit_code == 0, forced.output
    assert gets(sim, number_reads) == 2 * len(DEMO_FROM_NUMBERS)


def test_a_changed_campaign_file_is_checked_again(
    runner: CliRunner, sim: SimulatorHandle, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["run", "good.yaml", "--json"]).exit_code == 0
    (tmp_path / "good.yaml").write_text(GOOD.replace("max_concurrency: 5", "max_concurrency: 4"))
    assert runner.invoke(app, ["run", "good.yaml", "--json"]).exit_code == 0
    assert gets(sim, "get-phone-number/{phone_number}") == 2 * len(DEMO_FROM_NUMBERS)


async def test_contacts_outside_their_window_wait_for_its_opening(
    runner: CliRunner, sim: SimulatorHandle, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["ingest", "good.yaml", "contacts.csv"]).exit_code == 0
    # Weekdays 09:00-17:00 in New York, checked on a Sunday: the first opening is Monday 14:00 UTC.
    weekdays = GOOD.replace(
        'days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59"',
        'days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00"',
    )
    config = parse_campaign(weekdays)
    engine = make_engine(get_settings().database_url)
    sunday = FakeClock(datetime(2026, 12, 6, 15, 0, tzinfo=UTC))
    try:
        async with RetellClient(api_key=sim.api_key, base_url=sim.base_url) as client:
            checklist = await run_checks(config, client, engine, sunday)
    finally:
        engine.dispose()
    contacts = {check.topic: check for check in checklist.checks}["contacts"]
    assert contacts.found == (
        "0 can be called now, 2 wait for a retry time or their window; "
        "the first can be called at 2026-12-07 14:00 UTC"
    )
