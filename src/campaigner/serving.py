"""`campaigner serve`: the Prefect deployments with their schedules, and a server if there is none.

Schedules need a Prefect server (the ephemeral one has no scheduler). With `PREFECT_API_URL` set,
the deployments are served against that server; without it, a local `prefect server start` is
started first as a child process, waited for, and stopped (with everything it started) on exit.
The deployments themselves are served by `python -m flows.serve` in a child process, so this module
never imports Prefect. `CampaignFiles` tells that process which campaigns the campaign files define
as files come and go while it serves.

What serve keeps stays in the project folder's `.prefect/`: a local server's database (its
PREFECT_HOME, unless one is set), its log, and the API URL being served against, which
`campaigner resume` reads to start the campaign's run at once (`start_campaign_run`).
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

from campaigner.campaign import CampaignFileError
from campaigner.errors import CampaignerError
from campaigner.inbox import load_named_campaign

__all__ = [
    "RUN_CAMPAIGN_DEPLOYMENT",
    "CampaignFiles",
    "CampaignScan",
    "ServeError",
    "local_prefect_server",
    "serve_deployments",
    "served_api_url",
    "start_campaign_run",
]

HEALTH_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0
CAMPAIGN_FILE_QUIET_S = 2.0
PROJECT_PREFECT_DIR = Path(".prefect")
"""The project folder's own Prefect folder (relative: serve runs in the folder of campaigns/)."""
SERVED_API_URL_FILE = PROJECT_PREFECT_DIR / "campaigner-serve-api-url"
RUN_CAMPAIGN_DEPLOYMENT = "run-campaign/{campaign}"
"""A campaign's dialing deployment, as `flows.serve` names it."""
PREFECT_API_TIMEOUT_S = 10.0


class ServeError(CampaignerError):
    """The local Prefect server could not be started (the message says why)."""


@contextmanager
def local_prefect_server(
    *,
    host: str,
    port: int,
    say: Callable[[str], None],
    env: dict[str, str],
    timeout: float = HEALTH_TIMEOUT_S,
) -> Iterator[str]:
    """Start `prefect server start` on host:port, wait until it is healthy, yield its API URL,
    and stop it (and the processes it started) on exit."""
    if _port_taken(host, port):
        raise ServeError(
            f"{host}:{port} is taken: stop what listens there, choose --port, or point "
            "PREFECT_API_URL at the Prefect server already running"
        )
    api_url = f"http://{host}:{port}/api"
    PROJECT_PREFECT_DIR.mkdir(exist_ok=True)
    log_path = PROJECT_PREFECT_DIR.resolve() / f"server-{port}.log"
    say(f"PREFECT_API_URL is not set: starting a local Prefect server on {api_url}")
    say(f"(its log: {log_path}; UI at http://{host}:{port})")
    with log_path.open("wb") as log:
        server = subprocess.Popen(  # noqa: S603 -- our own interpreter and fixed arguments
            [
                sys.executable,
                "-m",
                "prefect",
                "server",
                "start",
                "--host",
                host,
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_env(env, api_url),
            # Its own process group, so it is stopped with its children, and a Ctrl-C meant for
            # the flows does not take it down before they have finished.
            start_new_session=True,
        )
    try:
        _wait_until_healthy(server, api_url, log_path, timeout)
        say("Prefect server is up.")
        yield api_url
    finally:
        _stop_group(server)
        say("Prefect server stopped.")


def server_env(env: dict[str, str], api_url: str) -> dict[str, str]:
    """The environment of a local server at `api_url` and of its clients: its home in the project
    folder (unless PREFECT_HOME is set), and PREFECT_API_URL. `prefect server start --port` does
    not tell its UI the port: the UI asks PREFECT_UI_API_URL, which defaults to PREFECT_API_URL,
    else to 127.0.0.1:4200 whatever the port. (A PREFECT_UI_API_URL set, say for a proxy in
    front, still wins.)"""
    return {"PREFECT_HOME": str(PROJECT_PREFECT_DIR.resolve()), **env, "PREFECT_API_URL": api_url}


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((host, port)) == 0


def _wait_until_healthy(
    server: subprocess.Popen[bytes], api_url: str, log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServeError(
                f"the Prefect server exited with code {server.returncode}; "
                f"its log ends with:\n{_tail(log_path)}"
            )
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    _stop_group(server)
    raise ServeError(f"the Prefect server was not healthy after {timeout:.0f} s; see {log_path}")


def _tail(path: Path, lines: int = 15) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group a child leads, then SIGKILL whatever of it is left."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_S)
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def serve_deployments(
    *,
    env: dict[str, str],
    args: list[str],
    host: str,
    port: int,
    say: Callable[[str], None],
) -> int:
    """Serve the deployments (`python -m flows.serve ARGS`) until Ctrl-C or SIGTERM; the exit code.

    Starts a local Prefect server first when `env` has no PREFECT_API_URL.
    """
    with _stopping_signals_interrupt():
        if env.get("PREFECT_API_URL"):
            say(f"Serving against the Prefect server at {env['PREFECT_API_URL']}")
            with _served_api_url_recorded(env["PREFECT_API_URL"]):
                return _run_flows_serve(env, args)
        with (
            local_prefect_server(host=host, port=port, say=say, env=env) as api_url,
            _served_api_url_recorded(api_url),
        ):
            # The flows' client shares the server's home (its settings, results and profiles).
            return _run_flows_serve(server_env(env, api_url), args)


@contextmanager
def _served_api_url_recorded(api_url: str) -> Iterator[None]:
    """Where serving goes on, for `campaigner resume` run from another shell of this folder."""
    PROJECT_PREFECT_DIR.mkdir(exist_ok=True)
    SERVED_API_URL_FILE.write_text(api_url)
    try:
        yield
    finally:
        SERVED_API_URL_FILE.unlink(missing_ok=True)


def served_api_url() -> str | None:
    """The Prefect API to start runs on: PREFECT_API_URL, else the one a `campaigner serve` of
    this folder serves against; None when neither is there."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        return configured
    try:
        return SERVED_API_URL_FILE.read_text().strip() or None
    except FileNotFoundError:
        return None


def start_campaign_run(api_url: str, campaign: str) -> str:
    """Create a run of the campaign's `run-campaign` deployment, due now; the run's name.

    Through the REST API rather than Prefect's client: campaigner's commands never import Prefect
    (seconds of imports for one request). The runner serving the deployment picks the run up at
    its next poll. Raises ServeError when the server does not answer or has no such deployment.
    """
    deployment = RUN_CAMPAIGN_DEPLOYMENT.format(campaign=campaign)
    try:
        with httpx.Client(
            base_url=api_url, timeout=PREFECT_API_TIMEOUT_S, headers=_prefect_api_auth()
        ) as client:
            found = client.get(f"/deployments/name/{deployment}")
            if found.status_code == httpx.codes.NOT_FOUND:
                raise ServeError(f"the Prefect server at {api_url} has no deployment {deployment}")
            found.raise_for_status()
            created = _create_flow_run(client, found.json()["id"])
    except httpx.HTTPError as error:
        raise ServeError(f"the Prefect server at {api_url} did not start a run: {error}") from error
    name: str = created.json()["name"]
    return name


PREFECT_API_TRIES = 3
"""Tries of a run's creation: a busy local server (its SQLite database locked) answers 503."""


def _create_flow_run(client: httpx.Client, deployment_id: str) -> httpx.Response:
    """Create the run, trying again on a 5xx or a lost connection; one idempotency key for every
    try, so a try whose answer was lost does not leave a second run."""
    path = f"/deployments/{deployment_id}/create_flow_run"
    body = {"idempotency_key": f"campaigner-resume-{uuid.uuid4().hex}"}
    for attempt in range(1, PREFECT_API_TRIES):
        with suppress(httpx.TransportError):
            created = client.post(path, json=body)
            if not created.is_server_error:
                return created.raise_for_status()
        time.sleep(attempt)
    return client.post(path, json=body).raise_for_status()


def _prefect_api_auth() -> dict[str, str]:
    """The credentials Prefect's own client would send: Prefect Cloud's PREFECT_API_KEY, or a
    self-hosted server's PREFECT_API_AUTH_STRING (`user:password`)."""
    if api_key := os.environ.get("PREFECT_API_KEY"):
        return {"Authorization": f"Bearer {api_key}"}
    if auth_string := os.environ.get("PREFECT_API_AUTH_STRING"):
        return {"Authorization": f"Basic {base64.b64encode(auth_string.encode()).decode()}"}
    return {}


@contextmanager
def _stopping_signals_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) stop serving like Ctrl-C, from the first moment: a
    local server started in its own session would otherwise outlive us and keep its port.

    Only the first signal interrupts: another one landing while the children are being stopped
    would cut that short and leave them running. Ctrl-C is handled here too, which also gives the
    children Python's own Ctrl-C handling even when we were started with it ignored (a shell's
    background job): an ignored SIGINT is inherited, and `flows.serve` would ignore the SIGINT
    that stops it until its imports are done."""
    stopping = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.getsignal(signum) for signum in stopping}
    stopped = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            raise KeyboardInterrupt

    for signum in stopping:
        signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run_flows_serve(env: dict[str, str], args: list[str]) -> int:
    command = [sys.executable, "-m", "flows.serve", *args]
    child = subprocess.Popen(command, env=env)  # noqa: S603 -- our interpreter, our options
    try:
        return child.wait()
    except KeyboardInterrupt:
        # A Ctrl-C at a terminal reached the child too; a SIGTERM reached only us. Either way the
        # child gets the Ctrl-C on which Prefect stops serving cleanly (schedules paused).
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
        try:
            return child.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            return child.wait()


@dataclass(frozen=True)
class CampaignScan:
    """What one look at the campaigns folder found."""

    campaigns: frozenset[str]
    """The campaigns of the valid campaign files: the ones to serve."""
    problems: list[str] = field(default_factory=list)
    """One line for each file found invalid in this look (a file is reported once per version)."""
    changed: frozenset[str] = frozenset()
    """The campaigns whose valid file is new or changed since the last look (to check again)."""


@dataclass(frozen=True)
class _Verdict:
    # inode, size, modification and change times: a file replaced, rewritten, touched, or made
    # readable (chmod changes only the change time) looks different.
    stamp: tuple[int, int, int, int]
    campaign: str | None
    problem: str | None


class CampaignFiles:
    """The campaigns that the `*.yaml` files of a campaigns folder define, as files come and go.

    Each `scan()` lists the folder and reads only the files that are new or changed since the last
    one, so it is cheap enough to run every few seconds. A file modified less than `quiet_seconds`
    ago is read at a later scan, so a file being copied in is not taken for an invalid one (a
    file already known keeps its verdict until then); a removed file is gone at once. Hidden
    files (an editor's `.name.yaml.swp`, `.#name.yaml`) are skipped: no campaign name starts
    with a dot.
    """

    def __init__(
        self,
        folder: Path,
        *,
        clock: Callable[[], float] = time.time,
        quiet_seconds: float = CAMPAIGN_FILE_QUIET_S,
    ) -> None:
        self.folder = folder
        self._clock = clock
        self._quiet_seconds = quiet_seconds
        self._verdicts: dict[str, _Verdict] = {}
        self._folder_problem: str | None = None

    def scan(self) -> CampaignScan:
        """The campaigns to serve now, and the problems not reported before."""
        try:
            if not self.folder.is_dir():
                raise FileNotFoundError(f"{self.folder}: no such campaigns folder")
            # Not glob(): it returns nothing for a folder it cannot list, which would stop
            # every campaign.
            paths = sorted(
                path
                for path in self.folder.iterdir()
                if path.suffix == ".yaml" and not path.name.startswith(".")
            )
        except OSError as error:
            # An unmounted share, a folder it may not read, a mistyped setting: no reason to stop
            # every campaign. What was served stays served, and the problem is said once.
            problem = str(error) if error.filename is None else f"{self.folder}: {error.strerror}"
            problems = [] if problem == self._folder_problem else [problem]
            self._folder_problem = problem
            return CampaignScan(self._campaigns(), problems)
        self._folder_problem = None
        now = self._clock()
        previous, self._verdicts = self._verdicts, {}
        problems = []
        changed = set()
        for path in paths:
            known = previous.get(path.name)
            verdict = self._judge(path, known, now)
            if verdict is None:
                continue
            self._verdicts[path.name] = verdict
            if verdict is known:
                continue
            if verdict.problem is not None:
                problems.append(verdict.problem)
            if verdict.campaign is not None:
                changed.add(verdict.campaign)
        return CampaignScan(self._campaigns(), problems, frozenset(changed))

    def _judge(self, path: Path, known: _Verdict | None, now: float) -> _Verdict | None:
        """The file's verdict: the known one while it is unchanged or still being written."""
        try:
            stat = path.stat()
        except OSError:  # removed since it was listed, or a dangling link
            return None
        stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        unchanged = known is not None and known.stamp == stamp
        if unchanged or now - stat.st_mtime < self._quiet_seconds:
            return known
        try:
            return _Verdict(stamp, load_named_campaign(self.folder, path.stem).name, None)
        except CampaignFileError as error:
            return _Verdict(stamp, None, str(error))

    def _campaigns(self) -> frozenset[str]:
        return frozenset(v.campaign for v in self._verdicts.values() if v.campaign is not None)
