"""`campaigner status`, through typer's runner, on a SQLite store holding a batch-mode campaign."""

from __future__ import annotations

import io
import json
import shutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlmodel import Session
from typer.testing import CliRunner

from campaigner import store
from campaigner.cli import app
from campaigner.dialer.results import apply_calls
from campaigner.retell import Call
from campaigner.settings import get_settings
from campaigner.status import campaign_overviews, print_overviews
from campaigner.store import batches, make_engine
from tests.store.factories import (
    NOW,
    add_contacts,
    campaign_config,
    lease_into_batch,
    make_campaign,
)

ALL_DAY = {
    "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
    "start": "00:00",
    "end": "23:59",
    "allow_outside_federal_hours": True,
}
# Results arrive tomorrow, so the retry they schedule is still ahead when `status` reads the clock.
SETTLED_AT = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=1)
RETRY_AT = SETTLED_AT + timedelta(hours=4)  # no_answer waits 4 h


def fill_store(url: str) -> None:
    """`spring` (batch mode): 3 contacts in one batch, one answered and successful, one not
    answered (waiting for a retry), one not dialed yet. `quiet` (direct mode): no contacts."""
    engine = make_engine(url)
    config = campaign_config("spring", mode="batch", window=ALL_DAY)
    with Session(engine) as session:
        make_campaign(session, "quiet")
        campaign = store.campaigns.upsert(session=session, config=config, now=NOW)
        session.commit()
        assert campaign.id is not None
        add_contacts(session, campaign, 3)
        batch, attempts = lease_into_batch(
            session, campaign.id, now=NOW, trigger_at=NOW + timedelta(hours=1)
        )
        assert batch.id is not None
        batches.mark_sent(session=session, batch_id=batch.id, retell_batch_id="batch_call_1")
        session.commit()
        start = int((NOW + timedelta(hours=1)).timestamp() * 1000)
        answered = Call.model_validate(
            {
                "call_id": "call_1",
                "call_status": "ended",
                "metadata": {"attempt": str(attempts[0].id)},
                "start_timestamp": start,
                "end_timestamp": start + 60_000,
                "disconnection_reason": "agent_hangup",
                "call_analysis": {"call_successful": True},
                "call_cost": {"combined_cost": 125},
            }
        )
        unanswered = Call.model_validate(
            {
                "call_id": "call_2",
                "call_status": "not_connected",
                "metadata": {"attempt": str(attempts[1].id)},
                "end_timestamp": start + 30_000,
                "disconnection_reason": "dial_no_answer",
                "call_analysis": {"call_successful": False},
            }
        )
        for call in (answered, unanswered):
            apply_calls(session, config=config, calls=[call], now=SETTLED_AT)
        session.commit()
    engine.dispose()


@pytest.fixture
def store_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "status.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    fill_store(url)
    return url


@pytest.fixture
def runner(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("CAMPAIGNER_DATABASE_URL", store_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_status_json_is_one_object_with_every_campaign(runner: CliRunner) -> None:
    result = runner.invoke(app, ["status", "--json"])

    assert result.exit_code == 0, result.output
    campaigns = {c["name"]: c for c in json.loads(result.stdout)["campaigns"]}
    assert set(campaigns) == {"quiet", "spring"}
    spring = campaigns["spring"]
    assert (spring["status"], spring["mode"]) == ("active", "batch")
    assert spring["counts"]["contacts_by_status"] == {"dialing": 1, "done": 1, "waiting_retry": 1}
    assert spring["counts"]["final_outcomes"] == {"success": 1}
    assert spring["counts"]["cost_cents"] == 125
    (batch,) = spring["batches"]
    assert batch["retell_batch_id"] == "batch_call_1"
    counts = {key: batch[key] for key in ("submitted", "dialed", "connected", "finished")}
    assert counts == {"submitted": 3, "dialed": 2, "connected": 1, "finished": 2}
    assert spring["next_callable_at"] == RETRY_AT.isoformat().replace("+00:00", "Z")
    assert campaigns["quiet"]["next_callable_at"] is None
    assert campaigns["quiet"]["batches"] == []


def test_status_of_one_campaign_is_plain_text_off_a_terminal(
    runner: CliRunner, store_url: str
) -> None:
    result = runner.invoke(app, ["status", "spring"])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"store: {store_url}",
        "campaign spring: active, batch mode",
        "  contacts 3: dialing 1, done 1, waiting_retry 1",
        "  final outcomes: success 1",
        "  attempts 3: no_answer 1, success 1",
        "  cost $1.25",
        f"  next callable {RETRY_AT:%Y-%m-%d %H:%M} UTC",
        "  No calls go out: no contact of the campaign is due (all called, or waiting for a "
        "retry).",
        f"  batch 1 (sent, America/New_York, variant default, from "
        f"{NOW + timedelta(hours=1):%Y-%m-%d %H:%M} UTC): submitted 3, dialed 2, connected 1, "
        "finished 2",
    ]


def test_a_paused_campaign_has_no_next_callable_time(runner: CliRunner) -> None:
    paused = runner.invoke(app, ["pause", "spring"])
    assert paused.exit_code == 0, paused.output

    as_json = runner.invoke(app, ["status", "spring", "--json"])
    as_text = runner.invoke(app, ["status", "spring"])

    (spring,) = json.loads(as_json.stdout)["campaigns"]
    assert spring["next_callable_at"] is None
    assert "  next callable none" in as_text.stdout.splitlines()


def test_resume_without_a_prefect_server_says_how_to_dial_now(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no `campaigner serve` runs in this folder
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    runner.invoke(app, ["pause", "spring"])

    resumed = runner.invoke(app, ["resume", "spring"])

    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout.splitlines() == [
        "campaign spring is active.",
        "No `campaigner serve` runs here and PREFECT_API_URL is unset: "
        "`campaigner run campaigns/spring.yaml` dials it now.",
    ]


def test_resume_with_a_prefect_server_out_of_reach_still_resumes_and_says_so(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("PREFECT_API_URL", f"http://127.0.0.1:{port}/api")
    runner.invoke(app, ["pause", "spring"])

    resumed = runner.invoke(app, ["resume", "spring"])

    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout == "campaign spring is active.\n"
    assert resumed.stderr.startswith(
        f"No run started (the Prefect server at http://127.0.0.1:{port}/api did not start a run: "
    )
    assert "`campaigner run campaigns/spring.yaml` dials it now." in resumed.stderr


def test_an_unknown_campaign_is_a_clear_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["status", "autumn"])

    assert result.exit_code == 2
    assert "error: no campaign named 'autumn'" in result.output


def test_an_invalid_setting_is_a_clear_error_naming_its_variable(
    runner: CliRunner, invalid_setting: str
) -> None:
    get_settings.cache_clear()
    result = runner.invoke(app, ["status"])

    assert result.exit_code == 2
    assert result.output.strip() == invalid_setting


def test_a_terminal_gets_tables(store_url: str) -> None:
    engine = make_engine(store_url)
    with Session(engine) as session:
        overviews = campaign_overviews(session=session, name="spring", now=datetime.now(UTC))
    engine.dispose()
    out = io.StringIO()

    print_overviews(overviews, Console(file=out, force_terminal=True, width=120))

    text = out.getvalue()
    assert "campaign spring: active" in text
    assert "batches" in text
    assert "America/New_York" in text


# Rich markup (colour, a link), an OSC window-title change, a screen clear and a bidi override.
HOSTILE_REASON = (
    "[bold red]refused[/bold red] [link=https://evil.example]see[/link]"
    "\x1b]0;pwned\x07\x1b[2J\x1bc\u202eokay\x9b31m"
)
SHOWN_REASON = "[bold red]refused[/bold red] [link=https://evil.example]see[/link]okay31m"


@pytest.mark.parametrize("terminal", [True, False])
def test_a_pause_reason_is_shown_as_text_and_never_acted_on(
    runner: CliRunner, store_url: str, terminal: bool
) -> None:
    paused = runner.invoke(app, ["pause", "spring", "--reason", HOSTILE_REASON])
    assert paused.exit_code == 0, paused.output
    engine = make_engine(store_url)
    with Session(engine) as session:
        overviews = campaign_overviews(session=session, name="spring", now=datetime.now(UTC))
    engine.dispose()
    out = io.StringIO()

    # No colours: any escape sequence in the output would be the reason's own.
    console = Console(file=out, force_terminal=terminal, color_system=None, width=300)
    print_overviews(overviews, console)

    text = out.getvalue()
    # A table's title wraps to the table's width, even inside a word.
    assert "".join(SHOWN_REASON.split()) in "".join(text.split())
    assert not {"\x1b", "\x07", "\u202e", "\x9b"} & set(text)
