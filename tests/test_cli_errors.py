"""The command line's one error contract: an error campaigner raises on purpose is one line on
stderr and exit 2; anything else is one line saying where its traceback was written (without
the API key) and exit 2; never a traceback on the terminal."""

from __future__ import annotations

import json
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaigner import status
from campaigner.cli import app
from campaigner.retell.retrying import RequestRetries
from campaigner.settings import get_settings
from campaigner.store import OperationalError

KEY = "key_9f8e7d6c5b4a_do_not_show"
CAMPAIGN = """\
name: errors
agent: {agent_id: agent_campaigner_demo}
from_numbers: ["+14155550100"]
columns: {phone: phone}
"""


@pytest.fixture
def runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_template: Path
) -> Iterator[CliRunner]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    shutil.copy(sqlite_template, tmp_path / "errors.db")
    monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", f"sqlite:///{tmp_path / 'errors.db'}")
    monkeypatch.setenv("RETELL_API_KEY", KEY)
    monkeypatch.setenv("RETELL_BASE_URL", "http://127.0.0.1:9")  # nothing listens: never dialed
    (tmp_path / "contacts.csv").write_text("phone\n+12125550100\n")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            "caps: {max_calls_per_number_per_24h: " + "9" * 5000 + "}",
            "caps.max_calls_per_number_per_24h: '99999999999999999999…' (5000 characters) "
            "is too large a number",
        ),
        (
            "analysis_timeout: 99999999999999999999d",
            "analysis_timeout: '99999999999999999999d' is longer than 3650d",
        ),
        ("description: " + "[" * 5000 + "]" * 5000, "line 5, column 63: nested more than 50"),
    ],
)
def test_ingest_of_an_absurd_campaign_file_is_one_line_naming_the_key(
    runner: CliRunner, tmp_path: Path, line: str, problem: str
) -> None:
    (tmp_path / "errors.yaml").write_text(CAMPAIGN + line + "\n")

    result = runner.invoke(app, ["ingest", "errors.yaml", "contacts.csv"])

    assert result.exit_code == 2
    (shown,) = result.stderr.splitlines()
    assert shown.startswith(f"error: errors.yaml: {problem}")


def test_a_non_ascii_api_key_is_one_settings_line_naming_the_variable_not_the_key(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "key_ünïcode_pasted_with_a_smart_quote’"
    monkeypatch.setenv("RETELL_API_KEY", key)
    get_settings.cache_clear()
    (tmp_path / "errors.yaml").write_text(CAMPAIGN)

    result = runner.invoke(app, ["check", "errors.yaml"])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: invalid setting: RETELL_API_KEY: Value error, is not printable ASCII (the "
        "characters Retell's keys are made of): look for a character pasted with it"
    ]
    assert "ünï" not in result.output


def traceback_file(shown: str) -> Path:
    found = re.search(r"the full traceback is in (\S+)\)$", shown)
    assert found is not None, shown
    return Path(found[1])


def test_an_unexpected_error_is_one_line_and_a_traceback_file_without_the_key(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: object) -> None:
        raise RuntimeError(f"a bug\nwhile sending Bearer {KEY}")

    monkeypatch.setattr(status, "campaign_overviews", broken)

    result = runner.invoke(app, ["status"])

    assert result.exit_code == 2
    (shown,) = result.stderr.splitlines()
    assert shown.startswith("error: unexpected RuntimeError: a bug while sending Bearer *** (")
    written = traceback_file(shown)
    try:
        text = written.read_text()
        assert "Traceback (most recent call last)" in text
        assert "RuntimeError: a bug" in text
        assert KEY not in text
        assert written.stat().st_mode & 0o077 == 0  # readable by its owner only
    finally:
        written.unlink()


def test_an_unexpected_error_is_one_line_even_when_its_traceback_cannot_be_written(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(**_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(status, "campaign_overviews", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))

    result = runner.invoke(app, ["status"])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: unexpected RuntimeError: a bug "
        "(its traceback could not be written: No such file or directory)"
    ]


def test_status_in_a_folder_without_a_store_says_where_it_looked_and_creates_none(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CAMPAIGNER_DATABASE_URL")  # the default: campaigner.db of this folder
    get_settings.cache_clear()

    result = runner.invoke(app, ["status"])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: no store at {tmp_path / 'campaigner.db'}; "
        "run from the project folder or set CAMPAIGNER_DATABASE_URL"
    ]
    assert not (tmp_path / "campaigner.db").exists()


def test_status_names_the_store_it_read(runner: CliRunner, tmp_path: Path) -> None:
    shown = f"sqlite:///{tmp_path / 'errors.db'}"

    text = runner.invoke(app, ["status"])
    as_json = runner.invoke(app, ["status", "--json"])

    assert text.stdout.splitlines()[0] == f"store: {shown}"
    assert json.loads(as_json.stdout) == {"store": shown, "campaigns": []}


def test_pausing_an_unknown_campaign_names_the_store_it_looked_in(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["pause", "nope"])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: no campaign named 'nope' in the store at sqlite:///{tmp_path / 'errors.db'}"
    ]


def closed_port() -> int:
    """A port nothing listens on: bound for a moment by the system's choice, then closed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_postgresql_store_not_listening_is_one_line_naming_it_without_the_password(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv(
        "CAMPAIGNER_DATABASE_URL", f"postgresql://campaigner:pw_not_shown@127.0.0.1:{port}/db"
    )
    get_settings.cache_clear()

    result = runner.invoke(app, ["dnc", "list"])

    assert result.exit_code == 2
    (shown,) = result.stderr.splitlines()
    assert shown.startswith(
        f"error: cannot reach the store at postgresql://campaigner:***@127.0.0.1:{port}/db ("
    )
    assert shown.endswith("): is PostgreSQL running? is CAMPAIGNER_DATABASE_URL right?")
    assert "pw_not_shown" not in result.output


def test_retell_not_listening_is_one_line_with_the_fix(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The client retries a connection refused, as it would any read; no need to wait here.
    monkeypatch.setattr(RequestRetries, "delay", lambda *_, **__: 0.0)
    base_url = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("RETELL_BASE_URL", base_url)
    get_settings.cache_clear()
    (tmp_path / "errors.yaml").write_text(CAMPAIGN)

    result = runner.invoke(app, ["check", "errors.yaml"])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: cannot reach Retell at {base_url} (GET /get-api-key-info failed: ConnectError): "
        "is the simulator running (`campaigner sim`)? is RETELL_BASE_URL right?"
    ]
    assert KEY not in result.output


def test_a_store_in_a_folder_that_does_not_exist_is_one_line_naming_it(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-folder" / "campaigner.db"
    monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", f"sqlite:///{missing}")
    get_settings.cache_clear()
    (tmp_path / "errors.yaml").write_text(CAMPAIGN)

    result = runner.invoke(app, ["ingest", "errors.yaml", "contacts.csv"])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: cannot open the store at sqlite:///{missing} (unable to open database file): "
        "does its folder exist, and may you write there? is CAMPAIGNER_DATABASE_URL right?"
    ]


def test_a_database_error_while_reading_names_the_store(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(**_: object) -> None:
        raise OperationalError("SELECT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(status, "campaign_overviews", failing)

    result = runner.invoke(app, ["status"])

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: the store at sqlite:///{tmp_path / 'errors.db'} failed: disk I/O error"
    ]
