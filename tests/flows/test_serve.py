"""`campaigner serve` end to end: its own Prefect server, schedules, a dropped file dialed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from flows.serve import UNRESPONSIVE_RUNS

from campaigner.simulator import SimulatorConfig, run_simulator
from tests.flows.conftest import CAMPAIGN, contacts_csv

pytestmark = [pytest.mark.prefect, pytest.mark.slow]

CAMPAIGNER = str(Path(sys.executable).parent / "campaigner")
WAIT_FOR_PICKUP_S = 240


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_serve_starts_a_server_and_a_scheduled_watch_inbox_picks_up_a_file(
    tmp_path: Path, sqlite_template: Path
) -> None:
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
        try:
            deadline = time.monotonic() + WAIT_FOR_PICKUP_S
            while not (inbox / "shop").is_dir() and time.monotonic() < deadline:
                time.sleep(0.5)
            dropped = inbox / "shop" / "new-leads.csv"
            dropped.write_text(contacts_csv(3))
            while time.monotonic() < deadline and sim.stats()["calls_created"] < 3:
                assert serve.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(1)
            run_campaign = httpx.get(
                f"http://127.0.0.1:{port}/api/deployments/name/run-campaign/shop"
            ).json()
            automations = httpx.post(f"http://127.0.0.1:{port}/api/automations/filter").json()
        finally:
            serve.terminate()
            code = serve.wait(timeout=60)
            log.close()
        output = (tmp_path / "serve.log").read_text()
        assert sim.stats()["calls_created"] == 3, output
    assert code == 0, output
    assert "starting a local Prefect server" in output
    assert "for flow 'watch-inbox'" in output
    assert "started run-campaign/shop" in output
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
    # Nothing left behind: not the flows' processes, not the Prefect server.
    with pytest.raises(ProcessLookupError):
        os.killpg(serve.pid, 0)
    assert not listening(port)
