"""Every command's `--help` reads as written: no `{name}` placeholders, no `<bool>` beside a
flag, and no default eaten out of a help text (it left a stray " .")."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from campaigner.cli import app


def command_paths(command: typer._click.Command, path: tuple[str, ...] = ()) -> Iterator[str]:
    """`campaigner`, then every command and sub-command under it, as the words that call it."""
    yield " ".join(path)
    for name, sub_command in getattr(command, "commands", {}).items():
        yield from command_paths(sub_command, (*path, name))


COMMANDS = list(command_paths(typer.main.get_command(app)))


def test_every_command_is_walked() -> None:
    assert {"", "ingest", "dnc", "dnc import", "report", "status", "sim"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_no_placeholders_or_stray_artefacts(command: str) -> None:
    result = CliRunner().invoke(app, [*command.split(), "--help"])

    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output or "usage:" in result.output
    assert "{" not in result.output
    assert "<bool>" not in result.output
    assert re.search(r" \.(\s|$)", result.output) is None  # a full stop after a space
