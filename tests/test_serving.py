"""`campaigner serve` refusing clearly what it cannot do (tests/flows/test_serve.py runs it)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

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
