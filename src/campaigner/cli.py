"""The `campaigner` command line.

Each command imports what it needs inside its body, so `campaigner --help` stays fast and a command
never pays for another's dependencies.
"""

from __future__ import annotations

import typer

from campaigner import __version__

app = typer.Typer(
    name="campaigner",
    help="Batch outbound call campaigns for Retell AI voice agents.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Batch outbound call campaigns for Retell AI voice agents."""


@app.command()
def version() -> None:
    """Print campaigner's version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point for `python -m campaigner`."""
    app()
