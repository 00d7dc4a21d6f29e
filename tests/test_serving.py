"""`campaigner serve` refusing clearly what it cannot do (tests/flows/test_serve.py runs it), and
following the campaign files as they come and go."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from flows.serve import _say_skipped
from flows.serve import main as serve_main
from typer.testing import CliRunner

from campaigner import serving
from campaigner.cli import app
from campaigner.serving import (
    CAMPAIGN_FILE_QUIET_S,
    CampaignFiles,
    CampaignScan,
    ServeError,
    local_prefect_server,
    start_campaign_run,
)
from campaigner.settings import get_settings
from tests.flows.conftest import CAMPAIGN


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_a_taken_port_starts_no_server_and_says_what_to_do(taken_port: int) -> None:
    said: list[str] = []
    with (
        pytest.raises(ServeError, match=f"127.0.0.1:{taken_port} is taken.*PREFECT_API_URL"),
        local_prefect_server(host="127.0.0.1", port=taken_port, say=said.append, env={}),
    ):
        pytest.fail("no server should have started")
    assert said == []


def test_the_command_fails_with_one_line_and_no_traceback(
    taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = CliRunner().invoke(app, ["serve", "--port", str(taken_port)])
    assert result.exit_code == 2
    assert f"error: 127.0.0.1:{taken_port} is taken" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("entry", ["campaigner serve", "python -m flows.serve"])
def test_an_invalid_setting_stops_serve_with_one_line_naming_it(
    entry: str, invalid_setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    get_settings.cache_clear()
    try:
        if entry == "campaigner serve":
            result = CliRunner().invoke(app, ["serve"])
            code, output = result.exit_code, result.output
        else:
            with pytest.raises(SystemExit) as exited:
                serve_main([])
            code, output = exited.value.code, capsys.readouterr().err
    finally:
        get_settings.cache_clear()
    assert code == 2
    assert output.strip() == invalid_setting


def _processes_naming(text: str) -> list[str]:
    listing = subprocess.run(
        ["ps", "-ww", "-eo", "args"], capture_output=True, text=True, check=True
    )
    return [line for line in listing.stdout.splitlines() if text in line]


@pytest.mark.slow
def test_a_sigterm_while_the_local_server_starts_leaves_no_server_behind(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    serve = subprocess.Popen(
        [str(Path(sys.executable).parent / "campaigner"), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert serve.stdout is not None
    assert "starting a local Prefect server" in serve.stdout.readline()
    server = f"prefect server start --host 127.0.0.1 --port {port}"
    deadline = time.monotonic() + 15
    while not _processes_naming(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_naming(server), "the local server never started"

    # While it starts (7-20 s here, before it is healthy).
    serve.send_signal(signal.SIGTERM)
    serve.wait(timeout=60)
    serve.stdout.close()

    assert _processes_naming(server) == []


LONG_AGO = 1_700_000_000.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str, *, at: float = LONG_AGO) -> None:
    """Write `path` as if at `at` (its modification time)."""
    path.write_text(text)
    os.utime(path, (at, at))


@pytest.fixture
def campaigns(tmp_path: Path) -> Path:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    write(folder / "shop.yaml", CAMPAIGN.format(name="shop"))
    return folder


@pytest.fixture
def clock() -> Clock:
    return Clock(LONG_AGO + 3600)


def test_valid_files_are_served_and_an_invalid_one_is_reported_once_per_version(
    campaigns: Path, clock: Clock
) -> None:
    write(campaigns / "broken.yaml", "name: [")
    files = CampaignFiles(campaigns, clock=clock)

    first = files.scan()
    assert first.campaigns == {"shop"}
    (problem,) = first.problems
    assert str(campaigns / "broken.yaml") in problem
    assert files.scan() == CampaignScan(frozenset({"shop"}), [])

    write(campaigns / "broken.yaml", "name: Broken!", at=clock.now - 60)
    assert len(files.scan().problems) == 1
    write(campaigns / "broken.yaml", CAMPAIGN.format(name="broken"), at=clock.now - 30)
    assert files.scan() == CampaignScan(frozenset({"shop", "broken"}), [], frozenset({"broken"}))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("budget_cents: " + "9" * 5000, "budget_cents: '99999999999999999999…' (5000 characters)"),
        ("analysis_timeout: 99999999999999999999d", "analysis_timeout: '99999999999999999999d'"),
        ("description: " + "[" * 5000 + "]" * 5000, "nested more than 50 levels deep"),
    ],
)
def test_an_absurd_file_is_reported_and_the_other_campaigns_stay_served(
    campaigns: Path, clock: Clock, line: str, problem: str
) -> None:
    write(campaigns / "absurd.yaml", CAMPAIGN.format(name="absurd") + line + "\n")

    scan = CampaignFiles(campaigns, clock=clock).scan()

    assert scan.campaigns == {"shop"}
    (reported,) = scan.problems
    assert reported.startswith(f"{campaigns / 'absurd.yaml'}: ")
    assert problem in reported


def test_a_skipped_file_is_reported_with_nothing_a_terminal_acts_on(
    campaigns: Path, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    write(campaigns / "\x1b]0;title\x07x\x1b[2J.yaml", "name: [")

    _say_skipped(CampaignFiles(campaigns, clock=clock).scan().problems)

    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"skipped: {campaigns / 'x.yaml'}: line 1, column 8: ")


def test_a_new_file_is_read_once_it_has_been_quiet_so_a_copy_in_progress_is_no_error(
    campaigns: Path, clock: Clock
) -> None:
    files = CampaignFiles(campaigns, clock=clock)
    assert files.scan().campaigns == {"shop"}

    spring = campaigns / "spring.yaml"
    write(spring, CAMPAIGN.format(name="spring")[:20], at=clock.now)
    assert files.scan() == CampaignScan(frozenset({"shop"}), [])
    clock.now += 1
    write(spring, CAMPAIGN.format(name="spring"), at=clock.now)
    assert files.scan() == CampaignScan(frozenset({"shop"}), [])

    clock.now += CAMPAIGN_FILE_QUIET_S
    assert files.scan() == CampaignScan(frozenset({"shop", "spring"}), [], frozenset({"spring"}))


def test_a_served_file_being_rewritten_keeps_its_campaign_until_it_settles(
    campaigns: Path, clock: Clock
) -> None:
    files = CampaignFiles(campaigns, clock=clock)
    files.scan()

    write(campaigns / "shop.yaml", "name: sh", at=clock.now)
    assert files.scan() == CampaignScan(frozenset({"shop"}), [])

    clock.now += CAMPAIGN_FILE_QUIET_S
    scan = files.scan()
    assert scan.campaigns == frozenset()
    assert len(scan.problems) == 1


def test_a_campaign_is_changed_when_its_file_is_read_anew_and_only_then(
    campaigns: Path, clock: Clock
) -> None:
    files = CampaignFiles(campaigns, clock=clock)
    assert files.scan().changed == {"shop"}
    assert files.scan().changed == frozenset()
    write(campaigns / "shop.yaml", CAMPAIGN.format(name="shop") + "fetch_transcripts: true\n")
    assert files.scan().changed == {"shop"}


def test_a_removed_or_renamed_file_changes_the_campaigns_at_once(
    campaigns: Path, clock: Clock
) -> None:
    write(campaigns / "spring.yaml", CAMPAIGN.format(name="spring"))
    files = CampaignFiles(campaigns, clock=clock)
    assert files.scan().campaigns == {"shop", "spring"}

    (campaigns / "spring.yaml").unlink()
    assert files.scan() == CampaignScan(frozenset({"shop"}), [])

    # Renamed with its campaign: a rename keeps the file's (old) modification time.
    write(campaigns / "shop.yaml", CAMPAIGN.format(name="autumn"))
    (campaigns / "shop.yaml").rename(campaigns / "autumn.yaml")
    assert files.scan() == CampaignScan(frozenset({"autumn"}), [], frozenset({"autumn"}))


def test_hidden_files_and_other_files_are_no_campaigns(campaigns: Path, clock: Clock) -> None:
    write(campaigns / ".#shop.yaml", "an editor's lock file")
    write(campaigns / "notes.txt", "not yaml")
    (campaigns / "gone.yaml").symlink_to(campaigns / "nowhere.yaml")

    assert CampaignFiles(campaigns, clock=clock).scan().campaigns == {"shop"}


def test_a_missing_folder_keeps_what_was_served_and_says_so_once(
    campaigns: Path, clock: Clock
) -> None:
    files = CampaignFiles(campaigns, clock=clock)
    files.scan()
    campaigns.rename(campaigns.with_name("unmounted"))

    first = files.scan()
    assert first.campaigns == {"shop"}
    assert first.problems == [f"{campaigns}: no such campaigns folder"]
    assert files.scan() == CampaignScan(frozenset({"shop"}), [])


def test_a_folder_that_cannot_be_listed_keeps_what_was_served_and_says_so_once(
    campaigns: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """glob() sees no file in a folder it may not list: every campaign would stop."""
    files = CampaignFiles(campaigns, clock=clock)
    files.scan()

    def refused(self: Path) -> Iterator[Path]:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", refused)
    first = files.scan()
    assert first.campaigns == {"shop"}
    assert first.problems == [f"{campaigns}: Permission denied"]
    assert files.scan() == CampaignScan(frozenset({"shop"}), [])


def test_a_file_changed_without_a_new_modification_time_is_read_again(
    campaigns: Path, clock: Clock
) -> None:
    """As after `chmod` on a file that could not be read: only its change time moves."""
    valid = CAMPAIGN.format(name="shop")
    write(campaigns / "shop.yaml", valid.replace("shop", "sh!p", 1))  # same size
    files = CampaignFiles(campaigns, clock=clock)
    assert files.scan().campaigns == frozenset()

    write(campaigns / "shop.yaml", valid)  # same inode, size and modification time
    assert files.scan().campaigns == {"shop"}


class FakePrefectAPI(BaseHTTPRequestHandler):
    """A Prefect API with one deployment, run-campaign/shop; it records what it is asked."""

    asked: ClassVar[list[tuple[str, str, str | None]]] = []
    # Statuses for the next POSTs (then 201), and the bodies they carried.
    busy_answers: ClassVar[list[int]] = []
    posted: ClassVar[list[dict[str, str]]] = []

    def _answer(self, status: int, body: dict[str, str]) -> None:
        self.asked.append((self.command, self.path, self.headers.get("Authorization")))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/api/deployments/name/run-campaign/shop":
            self._answer(200, {"id": "deployment-1"})
        else:
            self._answer(404, {"detail": "Deployment not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.posted.append(json.loads(self.rfile.read(length) or b"{}"))
        status = self.busy_answers.pop(0) if self.busy_answers else 201
        self._answer(status, {"name": "brave-otter"} if status == 201 else {"detail": "busy"})

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads `asked`."""


@pytest.fixture
def prefect_api() -> Iterator[str]:
    FakePrefectAPI.asked = []
    FakePrefectAPI.busy_answers = []
    FakePrefectAPI.posted = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePrefectAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("variable", "value", "authorization"),
    [
        ("PREFECT_API_KEY", "pnu_cloud", "Bearer pnu_cloud"),
        ("PREFECT_API_AUTH_STRING", "admin:pass", "Basic YWRtaW46cGFzcw=="),
        (None, None, None),
    ],
)
def test_resume_creates_a_run_of_the_campaigns_deployment_with_prefects_credentials(
    prefect_api: str,
    monkeypatch: pytest.MonkeyPatch,
    variable: str | None,
    value: str | None,
    authorization: str | None,
) -> None:
    for name in ("PREFECT_API_KEY", "PREFECT_API_AUTH_STRING"):
        monkeypatch.delenv(name, raising=False)
    if variable is not None and value is not None:
        monkeypatch.setenv(variable, value)

    assert start_campaign_run(prefect_api, "shop") == "brave-otter"

    assert FakePrefectAPI.asked == [
        ("GET", "/api/deployments/name/run-campaign/shop", authorization),
        ("POST", "/api/deployments/deployment-1/create_flow_run", authorization),
    ]


def test_resume_without_the_campaigns_deployment_says_so(prefect_api: str) -> None:
    with pytest.raises(ServeError, match=f"at {prefect_api} has no deployment run-campaign/quay$"):
        start_campaign_run(prefect_api, "quay")
    assert [method for method, _, _ in FakePrefectAPI.asked] == ["GET"]


def test_resume_tries_a_busy_server_again_with_one_idempotency_key(
    prefect_api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A local server whose database is busy answers 503: the run is asked for again, and one
    key makes sure a try that did create it leaves no second run."""
    monkeypatch.setattr(serving.time, "sleep", lambda _: None)
    FakePrefectAPI.busy_answers = [503, 503]

    assert start_campaign_run(prefect_api, "shop") == "brave-otter"

    keys = [body["idempotency_key"] for body in FakePrefectAPI.posted]
    assert len(keys) == 3
    assert len(set(keys)) == 1
