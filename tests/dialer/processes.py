"""Real processes for the crash-safety tests: `campaigner sim` and `campaigner run`, killed at will.

Everything listens on loopback. Every process is started through a `Processes` registry, which
kills (by its own pid) whatever is still running when the test ends.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from campaigner.retell import call_filter
from retell_sim import DEFAULT_API_KEY

STARTUP_TIMEOUT = 20.0
RUN_TIMEOUT = 60.0
POLL = 0.02


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll `predicate` until it holds; fail the test naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL)


@dataclass
class Processes:
    """The processes a test started; `stop_all` kills those still running, by their pids."""

    workdir: Path
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, args: list[str], *, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        """`python -m campaigner <args>` in `workdir`, stdout and stderr into `<name>.out/.err`."""
        with (
            (self.workdir / f"{name}.out").open("wb") as out,
            (self.workdir / f"{name}.err").open("wb") as err,
        ):
            process = subprocess.Popen(
                [sys.executable, "-m", "campaigner", *args],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
        self.started.append(process)
        return process

    def output(self, name: str) -> tuple[str, str]:
        """What the process called `name` wrote (stdout, stderr)."""
        out, err = (self.workdir / f"{name}.out", self.workdir / f"{name}.err")
        return out.read_text(errors="replace"), err.read_text(errors="replace")

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@dataclass
class SimulatorProcess:
    """A `campaigner sim` running in its own process, and the HTTP calls the tests make to it."""

    base_url: str
    api_key: str = DEFAULT_API_KEY

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        response = httpx.request(
            method, self.base_url + path, json=body, headers=headers, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def answers(self) -> bool:
        try:
            self._request("GET", "/get-concurrency")
        except httpx.HTTPError:
            return False
        return True

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._request("GET", "/_sim/stats")
        return stats

    def set_faults(self, spec: str) -> None:
        self._request("POST", "/_sim/faults", {"spec": spec})

    def force(self, number: str, reason: str) -> None:
        """Make every call to `number` end with `reason`."""
        self._request("POST", "/_sim/force", {"to_number": number, "disconnection_reason": reason})

    def campaign_calls(self, campaign: str) -> list[dict[str, Any]]:
        """Every call whose metadata names `campaign`, through /v3/list-calls, page by page."""
        body: dict[str, Any] = {
            "filter_criteria": call_filter(metadata={"campaign": campaign}),
            "limit": 100,
            "sort_order": "ascending",
        }
        calls: list[dict[str, Any]] = []
        while True:
            page = self._request("POST", "/v3/list-calls", body)
            calls.extend(page["items"])
            if not page["has_more"]:
                return calls
            body["pagination_key"] = page["pagination_key"]


def base_env() -> dict[str, str]:
    """The test's environment without any Retell or campaigner settings of the developer's."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RETELL_", "CAMPAIGNER_"))
    }


@contextmanager
def simulator_process(
    processes: Processes,
    *,
    speed: float,
    concurrency: int,
    cps: float,
    seed: int,
    options: Sequence[str] = (),
) -> Iterator[SimulatorProcess]:
    """Start `campaigner sim` (with more `options`, if given) on a free loopback port and wait
    until it answers the demo key."""
    port = free_port()
    args = ["sim", "--port", str(port), "--speed", f"{speed:g}", "--concurrency", str(concurrency)]
    args += ["--cps", f"{cps:g}", "--seed", str(seed), *options]
    process = processes.start(args, name="sim", env=base_env())
    sim = SimulatorProcess(base_url=f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not sim.answers():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the simulator did not start: {processes.output('sim')[1]}")
            time.sleep(0.05)
        yield sim
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def campaigner_env(*, database_url: str, sim: SimulatorProcess) -> dict[str, str]:
    """What `campaigner ingest` and `campaigner run` need to use this store and this simulator."""
    return {
        **base_env(),
        "CAMPAIGNER_DATABASE_URL": database_url,
        "RETELL_BASE_URL": sim.base_url,
        "RETELL_API_KEY": sim.api_key,
    }


def run_to_end(processes: Processes, args: list[str], *, name: str, env: dict[str, str]) -> Any:
    """Run a campaigner command to its end; its JSON output, or a failure showing its stderr."""
    process = processes.start(args, name=name, env=env)
    code = process.wait(timeout=RUN_TIMEOUT)
    out, err = processes.output(name)
    assert code == 0, f"campaigner {' '.join(args)} exited {code}: {err}"
    return json.loads(out)


def kill_9(process: subprocess.Popen[bytes], *, after: float) -> bool:
    """SIGKILL `process` `after` seconds from now; False if it had already ended by itself."""
    try:
        process.wait(timeout=after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        return True
    return False
