"""`campaigner serve` end to end: its own Prefect server, schedules, a dropped file dialed, campaign
files added and removed while it serves."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from flows.serve import RUN_CAMPAIGN_EVERY, UNRESPONSIVE_RUNS

from retell_sim import SimulatorConfig, run_simulator
from tests.flows.conftest import CAMPAIGN, contacts_csv

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

CAMPAIGNER = str(Path(sys.executable).parent / "campaigner")
WAIT_FOR_PICKUP_S = 240
CAMPAIGN_FLOWS = ("run-campaign", "sync-results", "export-report")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for(
    what: Callable[[], Any], *, deadline: float, serve: subprocess.Popen[bytes], log: Path
) -> Any:
    """`what()` once it is truthy; fails when `serve` died or the deadline passed."""
    while not (found := what()):
        assert serve.poll() is None, f"serve ended; its log:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"gave up waiting; the serve log:\n{log.read_text()}"
        time.sleep(0.5)
    return found


class PrefectAPI:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/api"

    def deployment(self, name: str) -> dict[str, Any] | None:
        answer = httpx.get(f"{self.url}/deployments/name/{name}")
        return None if answer.status_code == 404 else answer.raise_for_status().json()

    def scheduled_runs(self, deployment_id: str) -> list[dict[str, Any]]:
        query = {
            "deployments": {"id": {"any_": [deployment_id]}},
            "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
        }
        runs: list[dict[str, Any]] = (
            httpx.post(f"{self.url}/flow_runs/filter", json=query).raise_for_status().json()
        )
        return runs


def test_serve_starts_a_server_and_a_scheduled_watch_inbox_picks_up_a_file(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """Also: campaign files written and removed while it serves gain and lose their deployments,
    and an invalid one is reported once while the others go on (one server start for both)."""
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "shop.yaml").write_text(CAMPAIGN.format(name="shop"))
    store = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, store)
    inbox = tmp_path / "dropbox"
    port = free_port()
    with run_simulator(SimulatorConfig(speed=500, cps=100, seed=3, analysis_delay_s=1)) as sim:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PREFECT_API_", "CAMPAIGNER_", "RETELL_"))
        }
        env |= {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_RUNNER_POLL_FREQUENCY": "2",
            "CAMPAIGNER_DATABASE_URL": f"sqlite:///{store}",
            "RETELL_BASE_URL": sim.base_url,
            "RETELL_API_KEY": sim.api_key,
        }
        log = (tmp_path / "serve.log").open("w")
        serve = subprocess.Popen(
            [CAMPAIGNER, "serve", "--inbox", str(inbox), "--port", str(port), "--watch-every", "5"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        api = PrefectAPI(port)
        deadline = time.monotonic() + WAIT_FOR_PICKUP_S

        def waiting(what: Callable[[], Any]) -> Any:
            return wait_for(what, deadline=deadline, serve=serve, log=tmp_path / "serve.log")

        try:
            waiting((inbox / "shop").is_dir)
            # Written while it serves: a new campaign, and a file that is no campaign.
            (tmp_path / "campaigns" / "spring.yaml").write_text(CAMPAIGN.format(name="spring"))
            spring_written = datetime.now(UTC)
            (tmp_path / "campaigns" / "broken.yaml").write_text("name: [")
            dropped = inbox / "shop" / "new-leads.csv"
            dropped.write_text(contacts_csv(3))
            waiting(lambda: sim.stats()["calls_created"] >= 3)
            run_campaign = api.deployment("run-campaign/shop")
            automations = httpx.post(f"{api.url}/automations/filter").json()

            spring_run = waiting(lambda: api.deployment("run-campaign/spring"))
            spring_scheduled = waiting(lambda: api.scheduled_runs(spring_run["id"]))
            waiting((inbox / "spring").is_dir)
            spring_drop = inbox / "spring" / "first.csv"
            spring_drop.write_text(contacts_csv(2, first=10))
            # Copied in with its old modification time: not waited for as a copy in progress.
            os.utime(spring_drop, (time.time() - 60, time.time() - 60))
            waiting(lambda: sim.stats()["calls_created"] >= 5)

            (tmp_path / "campaigns" / "spring.yaml").unlink()
            spring = [
                f"{flow}/spring" for flow in ("run-campaign", "sync-results", "export-report")
            ]
            waiting(lambda: all(api.deployment(name)["paused"] for name in spring))
            spring_left_scheduled = [
                run for name in spring for run in api.scheduled_runs(api.deployment(name)["id"])
            ]
            # Put back: served again.
            (tmp_path / "campaigns" / "spring.yaml").write_text(CAMPAIGN.format(name="spring"))
            waiting(lambda: not any(api.deployment(name)["paused"] for name in spring))
        finally:
            serve.terminate()
            code = serve.wait(timeout=60)
            log.close()
        output = (tmp_path / "serve.log").read_text()
        assert sim.stats()["calls_created"] == 5, output
    assert code == 0, output
    assert "starting a local Prefect server" in output
    assert "for flow 'watch-inbox'" in output
    assert "started run-campaign/shop" in output
    # Runs are not held back by a cap on parallel runs (here watch-inbox runs pile up).
    assert "at capacity" not in output
    assert not dropped.exists()
    # A campaign never has two dialing runs: a second one while one runs is cancelled.
    assert run_campaign["global_concurrency_limit"]["limit"] == 1
    assert run_campaign["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
    assert run_campaign["parameters"] == {"campaign": "shop"}
    # A run whose process is killed is marked Crashed once its heartbeats stop.
    (unresponsive,) = [a for a in automations if a["name"] == UNRESPONSIVE_RUNS]
    assert unresponsive["trigger"]["after"] == ["prefect.flow-run.heartbeat"]
    assert unresponsive["actions"][0]["state"] == "CRASHED"
    assert [
        path.name.endswith("-new-leads.csv") for path in (inbox / "shop" / "archive").iterdir()
    ] == [True]
    # A campaign file written while serving is served: on schedule, and started by its inbox.
    assert "serving campaign spring" in output
    assert spring_run["parameters"] == {"campaign": "spring"}
    assert spring_run["schedules"][0]["schedule"]["interval"] == RUN_CAMPAIGN_EVERY.total_seconds()
    first_scheduled = min(
        datetime.fromisoformat(run["expected_start_time"]) for run in spring_scheduled
    )
    assert first_scheduled <= spring_written + RUN_CAMPAIGN_EVERY + timedelta(seconds=30)
    assert "started run-campaign/spring" in output
    # The invalid one is said once, and the others went on.
    assert output.count("skipped: campaigns/broken.yaml") == 1, output
    # A removed one is scheduled no more.
    assert "campaign spring: its file is gone" in output
    assert spring_left_scheduled == []
    # Nothing left behind: not the flows' processes, not the Prefect server.
    with pytest.raises(ProcessLookupError):
        os.killpg(serve.pid, 0)
    assert not listening(port)
