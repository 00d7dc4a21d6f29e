"""`campaigner sim`: the simulator's own command line (tests/retell_sim/test_cli.py) behind
campaigner's, or one line saying how to install the simulator where it is not."""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Sequence
from types import ModuleType

import pytest
from typer.testing import CliRunner

from campaigner.cli import app
from retell_sim import DEFAULT_API_KEY
from tests.retell_sim.test_cli import BAD_OPTIONS, ask, sim_process

CAMPAIGNER_SIM = (sys.executable, "-m", "campaigner", "sim")


def test_sim_serves_the_simulator_with_its_options_until_ctrl_c() -> None:
    with sim_process("--speed", "0", "--concurrency", "7", command=CAMPAIGNER_SIM) as sim:
        assert f"API key: {DEFAULT_API_KEY}" in sim.banner
        assert ask(sim.base_url, DEFAULT_API_KEY).json()["concurrency_limit"] == 7
        assert "Retell simulator stopped." in sim.stop()
        assert sim.process.returncode == 0


@BAD_OPTIONS
def test_sim_rejects_bad_options_in_one_line(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["sim", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert result.exception is None or isinstance(result.exception, SystemExit)


class _NoSimulator(importlib.abc.MetaPathFinder):
    """Finds no `retell_sim`, as after a plain `pip install .`."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> None:
        if name.partition(".")[0] == "retell_sim":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def test_sim_without_the_simulator_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in sys.modules if name.partition(".")[0] == "retell_sim"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_NoSimulator(), *sys.meta_path])
    result = CliRunner().invoke(app, ["sim", "--speed", "0"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: the Retell simulator is not installed; to install it, run "
        "`pip install ./src/retell_sim` in campaigner's source folder"
    ]
    assert result.exception is None or isinstance(result.exception, SystemExit)
