"""`python -m retell_sim`: serves until interrupted, reports where, never prints a key from the env.

`campaigner sim` hands its arguments to the same `main`; tests/test_sim_command.py runs these
helpers through it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from retell_sim import DEFAULT_API_KEY, SimulatorConfig, cli
from retell_sim.cli import main

SIMULATOR = (sys.executable, "-m", "retell_sim")


@dataclass
class SimProcess:
    """A running simulator command and what it printed on start."""

    process: subprocess.Popen[str]
    base_url: str
    banner: str

    def stop(self) -> str:
        """Ctrl-C; returns everything else it wrote (stdout and stderr)."""
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=15)
        return out + err


@contextmanager
def sim_process(
    *args: str, env: dict[str, str] | None = None, command: Sequence[str] = SIMULATOR
) -> Iterator[SimProcess]:
    """`command` (the simulator's, unless told) on a free port, with `args`, until it exits."""
    environment = {key: value for key, value in os.environ.items() if key != "RETELL_API_KEY"}
    process = subprocess.Popen(
        [*command, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**environment, **(env or {})},
    )
    try:
        assert process.stdout is not None
        # Read the whole banner through the same buffer: communicate() would bypass it.
        banner = "".join(process.stdout.readline() for _ in range(3))
        assert banner.startswith("Retell simulator listening on "), banner
        base_url = banner.splitlines()[0].rsplit(" ", 1)[1]
        yield SimProcess(process, base_url, banner)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def ask(base_url: str, key: str) -> httpx.Response:
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as http:
        return http.get("/get-concurrency")


def test_sim_serves_with_the_demo_key_and_stops_on_ctrl_c() -> None:
    with sim_process("--speed", "0", "--concurrency", "7") as sim:
        assert f"API key: {DEFAULT_API_KEY}" in sim.banner
        assert f"RETELL_BASE_URL={sim.base_url}" in sim.banner
        response = ask(sim.base_url, DEFAULT_API_KEY)
        assert response.status_code == 200
        assert response.json()["concurrency_limit"] == 7
        assert "Retell simulator stopped." in sim.stop()
        assert sim.process.returncode == 0


def test_sim_does_not_print_a_key_from_the_environment() -> None:
    secret = "key_from_env_do_not_print"
    with sim_process(env={"RETELL_API_KEY": secret}) as sim:
        assert ask(sim.base_url, secret).status_code == 200
        rest = sim.stop()
    assert "API key: from $RETELL_API_KEY" in sim.banner
    assert secret not in sim.banner + rest


BAD_OPTIONS = pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--faults", "boom=1"], "error: --faults: Value error, fault spec entry 'boom=1'"),
        (["--cps-exceeded", "maybe"], "error: --cps-exceeded: Input should be '429' or 'queue'"),
        (
            ["--concurrency", "0"],
            "error: --concurrency: Input should be greater than or equal to 1",
        ),
        (
            ["--trunk-failure", "dial_busy"],
            "error: --trunk-failure: Input should be 'telephony_provider_permission_denied'",
        ),
        (
            ["--analysis-delay", "-1"],
            "error: --analysis-delay: Input should be greater than or equal to 0",
        ),
    ],
)


@BAD_OPTIONS
def test_sim_rejects_bad_options_in_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    assert capsys.readouterr().err.startswith(message)


def test_sim_options_for_retells_failures_reach_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[SimulatorConfig] = []

    def serve(config: SimulatorConfig, **_: object) -> None:
        served.append(config)

    monkeypatch.setattr(cli, "serve_until_stopped", serve)
    options = ["--api-key", "key_api", "--webhook-api-key", "key_hooks"]
    options += ["--trunk-failure", "sip_routing_error", "--credit-calls", "5"]
    options += ["--out-of-credit-reason", "no_valid_payment", "--batch-failure-timestamps", "none"]
    assert main(options) == 0
    (config,) = served
    assert config.api_key.get_secret_value() == "key_api"
    assert config.webhook_key == "key_hooks"
    assert config.trunk_failure == "sip_routing_error"
    assert config.credit_calls == 5
    assert config.out_of_credit_reason == "no_valid_payment"
    assert config.batch_failure_timestamps == "none"
