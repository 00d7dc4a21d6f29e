"""`campaigner serve` end to end: its own Prefect server, schedules, a dropped file dialed, campaign
files added and removed while it serves."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from flows.serve import RUN_CAMPAIGN_EVERY, UNRESPONSIVE_RUNS
from sqlmodel import Session

from campaigner.serving import STOP_TIMEOUT_S
from campaigner.store import make_engine
from retell_sim import SimulatorConfig, run_simulator
from tests.flows.conftest import CAMPAIGN, contacts_csv
from tests.store.factories import make_campaign

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

    def flow_run_named(self, name: str) -> dict[str, Any] | None:
        query = {"flow_runs": {"name": {"any_": [name]}}}
        runs = httpx.post(f"{self.url}/flow_runs/filter", json=query).raise_for_status().json()
        return runs[0] if runs else None


def serve_env(store: Path, sim_base_url: str, sim_api_key: str) -> dict[str, str]:
    """This environment without Prefect's API, campaigner's and Retell's settings, and a workspace's
    own instead: serve decides for itself where its Prefect server is."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_API_", "PREFECT_HOME", "CAMPAIGNER_", "RETELL_"))
    }
    return env | {
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "CAMPAIGNER_DATABASE_URL": f"sqlite:///{store}",
        "RETELL_BASE_URL": sim_base_url,
        "RETELL_API_KEY": sim_api_key,
    }


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
        env = serve_env(store, sim.base_url, sim.api_key)
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


def test_on_any_port_the_ui_finds_the_api_and_resume_starts_a_run_at_once(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """`serve --port P` (not 4200): its UI asks P, its files stay in the project folder; a file
    dropped for a campaign whose window is closed today gets a receipt naming its first call in
    the recipients' local time; and a campaign paused then resumed (from another shell: no
    PREFECT_API_URL) is dialed within seconds, not at its next scheduled run."""
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "shop.yaml").write_text(CAMPAIGN.format(name="shop"))
    # Open only on the day after tomorrow in New York: closed now.
    later = (datetime.now(ZoneInfo("America/New_York")) + timedelta(days=2)).strftime("%a")
    # Doubled braces: the campaign is a template (`CAMPAIGN.format`).
    closed_window = f'window: {{{{days: [{later.lower()}], start: "09:00", end: "20:00"}}}}'
    closed = re.sub(r"window: \{.*?\}\n", closed_window + "\n", CAMPAIGN, flags=re.S)
    (tmp_path / "campaigns" / "closed.yaml").write_text(closed.format(name="closed"))
    store = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, store)
    engine = make_engine(f"sqlite:///{store}")
    with Session(engine) as session:
        make_campaign(session, "shop")
    engine.dispose()
    inbox = tmp_path / "inbox"
    port = free_port()
    with run_simulator(SimulatorConfig(speed=500, cps=100, seed=3)) as sim:
        env = serve_env(store, sim.base_url, sim.api_key)
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

        def cli(*args: str) -> str:
            done = subprocess.run(
                [CAMPAIGNER, *args], cwd=tmp_path, env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, done.stderr
            return done.stdout + done.stderr

        def receipt(campaign: str) -> str | None:
            path = inbox / campaign / "receipts" / "leads.csv.txt"
            return path.read_text() if path.exists() else None

        try:
            # Written once the server is healthy.
            waiting((tmp_path / ".prefect" / "campaigner-serve-api-url").exists)
            deployment = waiting(lambda: api.deployment("run-campaign/shop"))
            ui_settings = httpx.get(f"http://127.0.0.1:{port}/ui-settings").json()
            cli("pause", "shop")
            waiting((inbox / "closed").is_dir)
            (inbox / "closed" / "leads.csv").write_text(contacts_csv(2, first=20))
            (inbox / "shop" / "leads.csv").write_text(contacts_csv(3))
            closed_receipt = waiting(lambda: receipt("closed"))
            shop_receipt = waiting(lambda: receipt("shop"))
            calls_while_paused = sim.stats()["calls_created"]
            resumed = cli("resume", "shop")
            resumed_at = time.monotonic()
            started = re.search(r"started flow run (\S+) of run-campaign/shop", resumed)
            assert started is not None, resumed
            run = waiting(lambda: api.flow_run_named(started.group(1)))
            waiting(lambda: api.flow_run_named(started.group(1))["start_time"])
            picked_up_after = time.monotonic() - resumed_at
            waiting(lambda: sim.stats()["calls_created"] >= 3)
            dialed_after = time.monotonic() - resumed_at
        finally:
            serve.terminate()
            code = serve.wait(timeout=60)
            log.close()
    output = (tmp_path / "serve.log").read_text()
    assert code == 0, output
    assert ui_settings["api_url"] == f"http://127.0.0.1:{port}/api"
    assert "the calling window is closed now" in closed_receipt
    assert f"{later} " in closed_receipt
    assert "09:00 New York time (2 contacts)" in closed_receipt
    assert "campaign shop is paused" in shop_receipt
    assert calls_while_paused == 0
    assert run["deployment_id"] == deployment["id"]
    # The runner polls every 2 s here: the run is taken up at once, not in 5 minutes.
    assert picked_up_after < 30, output
    assert dialed_after < 60, output
    # The server's database and log stay in the project folder; the URL record goes with serve.
    assert (tmp_path / ".prefect" / "prefect.db").exists()
    assert (tmp_path / ".prefect" / f"server-{port}.log").exists()
    assert not (tmp_path / ".prefect" / "campaigner-serve-api-url").exists()
    # Without serve, resume says how to dial now.
    assert "No `campaigner serve` runs here" in cli("resume", "shop")


def test_one_sigterm_just_after_the_server_is_up_stops_serve_and_all_it_started(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """The moment the flows' process is still importing Prefect, with SIGINT ignored as a
    background job has it: one SIGTERM stops everything, within a bound."""
    (tmp_path / "campaigns").mkdir()
    store = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, store)
    port = free_port()
    env = serve_env(store, "http://127.0.0.1:9", "key_unused")
    log = (tmp_path / "serve.log").open("w")
    serve = subprocess.Popen(
        [CAMPAIGNER, "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # What `nohup` or `cmd &` in a script gives: SIGINT ignored, and inherited by children.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        wait_for(
            (tmp_path / ".prefect" / "campaigner-serve-api-url").exists,
            deadline=time.monotonic() + WAIT_FOR_PICKUP_S,
            serve=serve,
            log=tmp_path / "serve.log",
        )
        time.sleep(1)  # the flows' process started, and importing Prefect for seconds
        serve.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        serve.wait(timeout=60)
        while time.monotonic() - stopping < 60 and group_alive(serve.pid):
            time.sleep(0.2)
        stopped_after = time.monotonic() - stopping
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(serve.pid, signal.SIGKILL)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    # The flows' process takes Ctrl-C at once; the server, SIGTERM: seconds, not the 20 s a
    # process that ignores them is given before it is killed.
    assert stopped_after < STOP_TIMEOUT_S, output
    assert not listening(port)


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
