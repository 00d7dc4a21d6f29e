"""Results pushed by the simulator's signed webhooks settle contacts without waiting for polls."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from campaigner.campaign import parse_campaign
from campaigner.dialer import webhook_inbox
from campaigner.dialer.runner import CampaignRunner, RunOptions, RunSummary
from campaigner.dialer.webhook_inbox import (
    SIGNATURE_ADVICE,
    SIGNATURE_FAILURES_BEFORE_ADVICE,
    WebhookInbox,
    serve_webhook_inbox,
)
from campaigner.retell import sign_webhook
from campaigner.settings import Settings
from campaigner.store import CallAttempt, make_engine, upgrade_database
from retell_sim import DEMO_AGENT_B_ID, DEMO_AGENT_ID, SimulatorConfig, run_simulator
from tests.dialer.conftest import CAMPAIGN_YAML, Rig, numbers

KEY = SecretStr("key_webhook_test")
SIMULATOR_KEY = SecretStr("key_campaigner_simulator")
# The key with the webhook badge in the simulated workspace's dashboard: not the API key.
WEBHOOK_BADGE_KEY = SecretStr("key_webhook_badge_secret")


async def test_bad_signatures_are_refused_and_good_ones_queued() -> None:
    async with serve_webhook_inbox(webhook_api_key=KEY) as inbox:
        body = json.dumps(
            {"event": "call_ended", "call": {"call_id": "c1", "call_status": "ended"}},
            separators=(",", ":"),
        )
        async with httpx.AsyncClient() as http:
            unsigned = await http.post(inbox.url, content=body)
            forged = await http.post(
                inbox.url, content=body, headers={"x-retell-signature": sign_webhook(body, "other")}
            )
            good = await http.post(
                inbox.url, content=body, headers={"x-retell-signature": sign_webhook(body, KEY)}
            )
            started = json.dumps(
                {"event": "call_started", "call": {"call_id": "c1", "call_status": "ongoing"}}
            )
            await http.post(
                inbox.url,
                content=started,
                headers={"x-retell-signature": sign_webhook(started, KEY)},
            )
    assert (unsigned.status_code, forged.status_code, good.status_code) == (401, 401, 204)
    assert [call.call_id for call in inbox.drain()] == ["c1"]
    assert inbox.counters.rejected == 2
    assert inbox.counters.received == 2


async def test_only_posts_to_the_webhook_path_are_taken() -> None:
    async with serve_webhook_inbox(webhook_api_key=KEY) as inbox, httpx.AsyncClient() as http:
        wrong_method = await http.get(inbox.url)
        wrong_path = await http.post(inbox.url.replace("/retell/webhook", "/other"), content="{}")
    assert (wrong_method.status_code, wrong_path.status_code) == (405, 404)
    assert inbox.counters.received == inbox.counters.rejected == 0


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        # Not UTF-8, with a well-formed signature made without the key.
        (b"\xff\xfe", f"v={int(time.time() * 1000)},d={'0' * 64}"),
        # A timestamp far too long to be one.
        (b"{}", f"v={'9' * 5000},d={'0' * 64}"),
    ],
)
async def test_forged_deliveries_are_refused_not_errors(body: bytes, signature: str) -> None:
    async with serve_webhook_inbox(webhook_api_key=KEY) as inbox, httpx.AsyncClient() as http:
        answer = await http.post(inbox.url, content=body, headers={"x-retell-signature": signature})
    assert answer.status_code == 401
    assert inbox.counters.rejected == 1


async def test_a_websocket_upgrade_is_not_taken_for_a_webhook() -> None:
    upgrade = {
        "connection": "Upgrade",
        "upgrade": "websocket",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
    }
    async with serve_webhook_inbox(webhook_api_key=KEY) as inbox, httpx.AsyncClient() as http:
        answer = await http.get(inbox.url, headers=upgrade)
    assert answer.status_code < 500
    assert inbox.counters.received == 0


async def test_a_body_far_larger_than_any_call_is_refused_unread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webhook_inbox, "MAX_BODY_BYTES", 1000)
    body = json.dumps({"event": "call_ended", "call": {"call_id": "c1", "padding": "x" * 2000}})
    async with serve_webhook_inbox(webhook_api_key=KEY) as inbox, httpx.AsyncClient() as http:
        answer = await http.post(
            inbox.url, content=body, headers={"x-retell-signature": sign_webhook(body, KEY)}
        )
    assert answer.status_code == 413
    assert inbox.drain() == []


async def test_events_without_results_are_dropped_before_their_call_is_validated() -> None:
    async with serve_webhook_inbox(webhook_api_key=KEY) as inbox:
        # A call_started whose call would not validate (no call_status): never parsed.
        started = json.dumps({"event": "call_started", "call": {"call_id": "c1"}})
        ended = json.dumps({"event": "call_ended", "call": {"call_id": "c1"}})
        async with httpx.AsyncClient() as http:
            answers = [
                await http.post(
                    inbox.url, content=body, headers={"x-retell-signature": sign_webhook(body, KEY)}
                )
                for body in (started, ended)
            ]
    assert [answer.status_code for answer in answers] == [204, 400]
    assert inbox.drain() == []


async def post_signed(
    inbox: WebhookInbox, *payloads: dict[str, Any], key: SecretStr = KEY
) -> list[int]:
    """Deliver each payload, signed with `key`; the statuses answered."""
    statuses = []
    async with httpx.AsyncClient() as http:
        for payload in payloads:
            body = json.dumps(payload)
            signature = sign_webhook(body, key)
            answer = await http.post(
                inbox.url, content=body, headers={"x-retell-signature": signature}
            )
            statuses.append(answer.status_code)
    return statuses


def advice_given(caplog: pytest.LogCaptureFixture) -> int:
    """How many times the run told the operator what to check about refused signatures."""
    return sum(record.msg == SIGNATURE_ADVICE for record in caplog.records)


async def test_the_advice_on_refused_signatures_comes_once_per_run_of_refusals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = {"event": "call_started", "call": {"call_id": "c1", "call_status": "ongoing"}}
    other_key = SecretStr("key_of_another_workspace")
    async with serve_webhook_inbox(webhook_api_key=KEY) as inbox:
        before_the_last = SIGNATURE_FAILURES_BEFORE_ADVICE - 1
        await post_signed(inbox, *[started] * before_the_last, key=other_key)
        async with httpx.AsyncClient() as http:
            # Unsigned: not Retell at all, so no sign of a wrong key.
            await http.post(inbox.url, content=json.dumps(started))
        assert advice_given(caplog) == 0
        await post_signed(inbox, started, key=other_key)
        assert advice_given(caplog) == 1
        await post_signed(inbox, *[started] * 3, key=other_key)
        assert advice_given(caplog) == 1
        # One delivery taken ends the run of refusals; a new one is told again.
        assert await post_signed(inbox, started) == [204]
        await post_signed(inbox, *[started] * SIGNATURE_FAILURES_BEFORE_ADVICE, key=other_key)
        assert advice_given(caplog) == 2
    advice = next(record for record in caplog.records if record.msg == SIGNATURE_ADVICE)
    assert "RETELL_WEBHOOK_API_KEY" in advice.getMessage()
    assert inbox.url in advice.getMessage()
    # Past the advice, each refusal is no longer a warning of its own.
    refusal_warnings = [
        record
        for record in caplog.records
        if record.levelno == logging.WARNING and "invalid signature rejected" in record.getMessage()
    ]
    assert len(refusal_warnings) == 2 * SIGNATURE_FAILURES_BEFORE_ADVICE


async def test_a_call_out_of_range_is_refused_alone_and_logged_without_its_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_number = "+12125550199"
    call = {"call_id": "c1", "call_status": "ended", "to_number": secret_number}
    async with serve_webhook_inbox(webhook_api_key=KEY) as inbox:
        statuses = await post_signed(
            inbox,
            # Year 318,857: a 64-bit integer still, but no call's end.
            {"event": "call_ended", "call": {**call, "end_timestamp": 10**16}},
            {"event": "call_ended", "call": {**call, "call_id": "c2", "duration_ms": -1}},
            {"event": "call_ended", "call": {**call, "call_id": "c3"}},
        )
    assert statuses == [400, 400, 204]
    assert [queued.call_id for queued in inbox.drain()] == ["c3"]
    assert "call c1 is not a Retell event (call.end_timestamp: less_than_equal)" in caplog.text
    assert "call c2 is not a Retell event (call.duration_ms: greater_than_equal)" in caplog.text
    assert secret_number not in caplog.text


async def test_metadata_of_any_json_is_taken() -> None:
    metadata = {"campaign": "t", "attempt": "3", "score": 0.5, "tags": ["x"], "nested": {"a": 1}}
    call = {"call_id": "c1", "call_status": "ended", "metadata": metadata}
    odd = {"call_id": "c2", "call_status": "ended", "metadata": ["not", "an", "object"]}
    async with serve_webhook_inbox(webhook_api_key=KEY) as inbox:
        statuses = await post_signed(
            inbox, {"event": "call_ended", "call": call}, {"event": "call_ended", "call": odd}
        )
    assert statuses == [204, 204]
    assert [queued.metadata for queued in inbox.drain()] == [metadata, odd["metadata"]]


async def run_with_webhooks(
    tmp_path: Path,
    phones: list[str],
    events: list[str] | None = None,
    agents: str | None = None,
    every_call_ends: str | None = None,
    *,
    signing_key: SecretStr | None = None,
    checking_key: SecretStr = SIMULATOR_KEY,
    polls_every: float = 60,
    webhook_polls_every: float | None = None,
) -> tuple[RunSummary, dict[str, Any], WebhookInbox, Engine]:
    """A run whose results come by webhook only (polls far too slow to matter, unless
    `polls_every` says otherwise): its summary, the simulator's stats, the inbox and the
    store. `agents` replaces the campaign's agent ids; `every_call_ends` is the disconnection
    reason forced on every call. The simulator signs webhooks with `signing_key` (None: its API
    key) and the run checks them with `checking_key`."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade_database(engine)
    async with serve_webhook_inbox(webhook_api_key=checking_key) as inbox:
        config = SimulatorConfig(
            speed=400,
            concurrency_limit=5,
            cps=100,
            seed=4,
            analysis_delay_s=2,
            api_key=SIMULATOR_KEY,
            webhook_api_key=signing_key,
            account_webhook_url=inbox.url,
        )
        with run_simulator(config) as sim:
            if events is not None:
                for agent_id in (DEMO_AGENT_ID, DEMO_AGENT_B_ID):
                    sim.call(
                        lambda s, agent_id=agent_id: s.workspace.update_agent(
                            agent_id, {"webhook_events": events}
                        )
                    )
            rig = Rig(engine=engine, sim=sim, tmp=tmp_path)
            if every_call_ends is not None:
                for phone in phones:
                    rig.force(phone, every_call_ends)
            campaign = rig.campaign()
            if agents is not None:
                campaign = parse_campaign(
                    CAMPAIGN_YAML.format(name="t", extra="").replace(DEMO_AGENT_ID, agents)
                )
            rig.ingest(campaign, phones)
            options = RunOptions(
                poll_interval=polls_every,
                webhook_poll_interval=(
                    polls_every if webhook_polls_every is None else webhook_polls_every
                ),
                reconcile_interval=0.1,
            )
            async with rig.client() as client:
                runner = CampaignRunner(
                    config=campaign, engine=engine, client=client, options=options, webhooks=inbox
                )
                summary = await runner.run()
            return summary, sim.stats(), inbox, engine


def analyses_recorded(engine: Engine) -> list[bool]:
    """For each call that connected, whether its analysis is recorded. Their outcome waits for
    it (the others are settled at their end, their analysis recorded only if it comes while the
    run goes on)."""
    with Session(engine) as session:
        return [
            a.analysis_at is not None for a in session.exec(select(CallAttempt)) if a.duration_ms
        ]


# Retell's default subscription, and the one docs/dialer.md recommends (call_started unused).
@pytest.mark.parametrize("events", [None, ["call_ended", "call_analyzed"]])
async def test_runner_settles_calls_from_webhooks(tmp_path: Path, events: list[str] | None) -> None:
    summary, stats, inbox, engine = await run_with_webhooks(tmp_path, numbers(20), events)
    analysed = analyses_recorded(engine)
    engine.dispose()
    assert summary.stop_reason == "nothing is due now"
    assert summary.calls_finished == 20
    # Every analysis came home by webhook (polling was too slow to bring any).
    assert analysed
    assert all(analysed)
    assert inbox.counters.rejected == 0
    if events is None:
        assert inbox.counters.received > 40  # call_started too, for the calls that connected
    else:
        assert inbox.counters.received == stats["webhook_events"] == 40
    requests = stats["requests_by_endpoint"]
    assert isinstance(requests, dict)
    assert not any("list-calls" in endpoint for endpoint in requests)


def checked_with(webhook_api_key: SecretStr | None) -> SecretStr:
    """The key a run checks webhooks with when RETELL_WEBHOOK_API_KEY is `webhook_api_key`
    (None: unset) and RETELL_API_KEY is the simulator's."""
    settings = Settings(retell_api_key=SIMULATOR_KEY, retell_webhook_api_key=webhook_api_key)
    return settings.resolved_webhook_api_key()


async def test_webhooks_signed_with_the_workspace_webhook_key_are_taken(tmp_path: Path) -> None:
    summary, stats, inbox, engine = await run_with_webhooks(
        tmp_path,
        numbers(10),
        ["call_ended", "call_analyzed"],
        signing_key=WEBHOOK_BADGE_KEY,
        checking_key=checked_with(WEBHOOK_BADGE_KEY),
    )
    analysed = analyses_recorded(engine)
    engine.dispose()
    assert summary.calls_finished == 10
    # Every analysis came home by webhook (polling was too slow to bring any).
    assert analysed
    assert all(analysed)
    assert inbox.counters.rejected == 0
    assert inbox.counters.received == stats["webhook_events"] == 20


async def test_webhooks_signed_with_another_key_are_refused_and_results_come_by_polling(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """RETELL_WEBHOOK_API_KEY unset while the workspace signs with its webhook-badge key: every
    webhook is refused, the operator is told once what to check (never a key), and every call
    still settles, its analysis included, by polling."""
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()
    summary, _, inbox, engine = await run_with_webhooks(
        tmp_path,
        numbers(10),
        ["call_ended", "call_analyzed"],
        signing_key=WEBHOOK_BADGE_KEY,
        checking_key=checked_with(None),
        polls_every=0.5,
        # Webhooks refused: the run polls as often as one without them, not once a minute.
        webhook_polls_every=60,
    )
    assert time.monotonic() - started < 30
    analysed = analyses_recorded(engine)
    with Session(engine) as session:
        unsettled = [a.id for a in session.exec(select(CallAttempt)) if not a.finalized]
    engine.dispose()
    assert summary.stop_reason == "nothing is due now"
    assert summary.calls_finished == 10
    assert unsettled == []
    assert analysed
    assert all(analysed)
    assert inbox.counters.received == 0
    assert inbox.counters.rejected > SIGNATURE_FAILURES_BEFORE_ADVICE
    assert advice_given(caplog) == 1
    for key in (SIMULATOR_KEY, WEBHOOK_BADGE_KEY):
        assert key.get_secret_value() not in caplog.text


async def test_a_refusal_that_pauses_stops_the_refills_of_freed_slots(tmp_path: Path) -> None:
    """Retell refuses every create (an agent it does not know): the campaign pauses at the first
    refusals, and the slots they free are not refilled with more doomed creates."""
    summary, stats, _, engine = await run_with_webhooks(tmp_path, numbers(60), agents="agent_gone")
    engine.dispose()
    assert summary.status == "paused"
    requests = stats["requests_by_endpoint"]
    assert isinstance(requests, dict)
    creates = sum(n for endpoint, n in requests.items() if "create-phone-call" in endpoint)
    assert 1 <= creates <= 5  # at most one per slot: those already on their way


async def test_failed_dials_pushed_by_webhook_trip_the_breaker_without_waiting_for_a_batch(
    tmp_path: Path,
) -> None:
    """The breaker counts each failed dial as its webhook comes, not in the next results batch
    (2 s later, in which the freed slots would be refilled with more failing calls)."""
    summary, stats, _, engine = await run_with_webhooks(
        tmp_path, numbers(80), every_call_ends="dial_failed"
    )
    engine.dispose()
    assert summary.status == "paused"
    assert "failed to connect" in summary.stop_reason
    # The ten failures that trip it, and the calls already up in the five slots.
    assert stats["calls_created"] <= 10 + 5


async def test_a_stale_or_misshapen_signature_is_refused_before_the_body_is_read() -> None:
    inbox = WebhookInbox(webhook_api_key=KEY)
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1_000_000, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    ten_minutes_ago = int(time.time() * 1000) - 600_000
    for signature in (f"v={ten_minutes_ago},d={'0' * 64}", "v=1,d=short", "garbage"):
        scope = {
            "type": "http",
            "path": "/retell/webhook",
            "method": "POST",
            "headers": [(b"x-retell-signature", signature.encode())],
        }
        await inbox.app(scope, receive, send)
    assert reads == 0
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [401] * 3
    assert inbox.counters.rejected == 3


async def send_slowly(url: str, *, body_bytes: int) -> bytes:
    """A delivery with a fresh, well-formed signature whose body never comes: the answer."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    signature = f"v={int(time.time() * 1000)},d={'0' * 64}"
    writer.write(
        f"POST /retell/webhook HTTP/1.1\r\nhost: {host}\r\ncontent-length: {body_bytes}\r\n"
        f"x-retell-signature: {signature}\r\n\r\n".encode()
        + b"{"
    )
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(200), timeout=10)
    finally:
        writer.close()


async def test_a_body_that_does_not_arrive_in_time_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webhook_inbox, "BODY_READ_SECONDS", 0.3)
    async with serve_webhook_inbox(webhook_api_key=KEY) as inbox:
        answer = await send_slowly(inbox.url, body_bytes=1000)
    assert answer.startswith(b"HTTP/1.1 408")
    assert inbox.counters.rejected == 1


async def test_deliveries_received_at_once_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_inbox, "MAX_CONNECTIONS", 2)
    monkeypatch.setattr(webhook_inbox, "BODY_READ_SECONDS", 2.0)
    async with serve_webhook_inbox(webhook_api_key=KEY) as inbox:
        answers = await asyncio.gather(*(send_slowly(inbox.url, body_bytes=1000) for _ in range(4)))
    statuses = [answer.split(b" ")[1] for answer in answers]
    # Beyond two connections at once, deliveries are turned away without being read; those read
    # time out.
    assert statuses.count(b"503") >= 2
    assert set(statuses) <= {b"408", b"503"}
