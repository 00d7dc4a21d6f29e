"""`campaigner serve` refusing clearly what it cannot do (tests/flows/test_serve.py runs it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaigner.cli import app
from campaigner.serving import ServeError, local_prefect_server


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
        local_prefect_server(host="127.0.0.1", port=taken_port, say=said.append),
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
