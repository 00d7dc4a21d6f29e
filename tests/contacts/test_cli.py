"""`campaigner ingest` and `campaigner dnc`, through typer's runner, on a temporary SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaigner.cli import app
from campaigner.settings import get_settings
from tests.contacts.conftest import REPO, SAMPLE_DATA

DEMO = str(REPO / "campaigns" / "demo.yaml")
CONTACTS = str(SAMPLE_DATA / "contacts.csv")
MESSY = str(SAMPLE_DATA / "contacts_messy.csv")


@pytest.fixture
def runner(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_ingest_prints_a_summary_and_writes_the_files(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", DEMO, MESSY])
    assert result.exit_code == 0, result.output
    assert "contacts_messy.csv -> campaign demo" in result.output
    for line in ("rows read", "accepted", "duplicate_in_file", "blank rows skipped"):
        assert line in result.output
    imports = tmp_path / "out" / "demo" / "imports"
    written = sorted(path.name for path in imports.iterdir())
    assert [name.split("-")[0] for name in written] == ["contacts_messy", "contacts_messy"]
    assert (
        f"Rejected rows, with the reason for each: out/demo/imports/{written[0]}" in result.output
    )


def test_ingest_json_is_one_object(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", DEMO, CONTACTS, "--json", "--out-dir", "here"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {
        "rows_read",
        "accepted",
        "rejected",
        "duplicates",
        "suppressed",
        "rejected_file",
        "already_ingested",
    } <= set(summary)
    assert (summary["rows_read"], summary["accepted"], summary["rejected"]) == (400, 400, {})
    assert summary["rejected_file"].startswith("here/contacts-")
    assert not summary["already_ingested"]

    again = runner.invoke(app, ["ingest", DEMO, CONTACTS, "--json"])
    assert json.loads(again.stdout)["already_ingested"] is True
    plain = runner.invoke(app, ["ingest", DEMO, CONTACTS])
    assert "was already imported into demo" in plain.output
    assert "nothing changed" in plain.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["ingest", "missing.yaml", CONTACTS], "error: missing.yaml: no such campaign file\n"),
        (["ingest", CONTACTS, CONTACTS], "must be a mapping of campaign fields"),
        (["ingest", DEMO, "nope.csv"], "error: nope.csv: no such file\n"),
        (["ingest", DEMO, str(SAMPLE_DATA / "dnc.csv")], "columns 'Phone', 'Time Zone'"),
        (["ingest", DEMO, str(REPO / "pyproject.toml")], "unknown file type '.toml'"),
    ],
)
def test_ingest_errors_are_one_line_and_exit_2(
    runner: CliRunner, arguments: list[str], message: str
) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_dnc_import_reports_invalid_entries_and_suppresses_contacts(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["dnc", "import", str(SAMPLE_DATA / "dnc.csv"), "--reason", "asked"]
    )
    assert result.exit_code == 1
    assert result.stdout == (
        "dnc.csv ('Phone Number'): 7 numbers added to the do-not-call list, 0 already on it, "
        "0 repeated in the file, 1 invalid.\n"
    )
    assert "row 9: '555-01' is not a valid number (invalid_number: too_short" in result.stderr
    ingest = runner.invoke(app, ["ingest", DEMO, CONTACTS, "--json"])
    assert json.loads(ingest.stdout)["suppressed"] == 4
    listing = runner.invoke(app, ["dnc", "list"])
    assert listing.stdout.count("asked") == 7


def test_dnc_import_finds_or_is_told_the_phone_column(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "list.csv").write_text("Name,Tel\nAnn,212-555-0101\nAnn,+12125550101\n")
    unnamed = runner.invoke(app, ["dnc", "import", "list.csv"])
    assert unnamed.exit_code == 2
    assert "no phone column (looked for phone, phone number, number)" in unnamed.stderr
    named = runner.invoke(app, ["dnc", "import", "list.csv", "--column", "tel"])
    assert named.exit_code == 0, named.output
    assert "1 numbers added" in named.stdout
    assert "1 repeated in the file" in named.stdout
    (tmp_path / "bare.csv").write_text("212-555-0101\n212-555-0102\n")
    bare = runner.invoke(app, ["dnc", "import", "bare.csv"])
    assert bare.exit_code == 2
    assert "the file needs a header row" in bare.stderr


def test_dnc_add_list_remove(runner: CliRunner) -> None:
    assert runner.invoke(app, ["dnc", "list"]).stdout == "The do-not-call list is empty.\n"
    added = runner.invoke(app, ["dnc", "add", "(415) 555-0177", "--reason", "on a call"])
    assert added.stdout == "+14155550177 added to the do-not-call list.\n"
    again = runner.invoke(app, ["dnc", "add", "+1 415 555 0177"])
    assert again.stdout == "+14155550177 was already on it.\n"
    uk = runner.invoke(app, ["dnc", "add", "020 7946 0123", "--region", "gb"])
    assert uk.stdout == "+442079460123 added to the do-not-call list.\n"
    listing = runner.invoke(app, ["dnc", "list"]).stdout
    assert "+14155550177" in listing
    assert "on a call" in listing
    removed = runner.invoke(app, ["dnc", "remove", "415.555.0177"])
    assert removed.stdout == "+14155550177 removed from the do-not-call list.\n"
    gone = runner.invoke(app, ["dnc", "remove", "415.555.0177"])
    assert gone.exit_code == 1
    assert "was not on the do-not-call list" in gone.stderr


def test_dnc_list_shows_a_reason_as_written(runner: CliRunner) -> None:
    # Short enough for the table's column: markup, a window title and a screen clear.
    reason = "[red]no[/red]\x1b]0;t\x07\x1b[2J"
    runner.invoke(app, ["dnc", "add", "(415) 555-0177", "--reason", reason])

    listing = runner.invoke(app, ["dnc", "list"]).stdout

    assert "[red]no[/red]" in listing
    assert "\x1b" not in listing


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["dnc", "add", "555"],
            "error: '555' is not a valid phone number (invalid_number: too_short",
        ),
        (["dnc", "add", "call me"], "error: 'call me' is not a valid phone number (unparseable"),
        (["dnc", "add", "2125550101", "--region", "XX"], "error: --region 'XX' is not a region"),
        (["dnc", "remove", ""], "error: '' is not a valid phone number (missing_number"),
    ],
)
def test_dnc_bad_numbers_exit_2(runner: CliRunner, arguments: list[str], message: str) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
