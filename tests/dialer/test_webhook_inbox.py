"""Results pushed by the simulator's signed webhooks settle contacts without waiting for polls."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import Session, select

from campaigner.dialer import webhook_inbox
from campaigner.dialer.runner import CampaignRunner, RunOptions
from campaigner.dialer.webhook_inbox import serve_webhook_inbox
from campaigner.retell import sign_webhook
from campaigner.simulator import DEMO_AGENT_B_ID, DEMO_AGENT_ID, SimulatorConfig, run_simulator
from campaigner.store import CallAttempt, make_engine, upgrade_database
from tests.dialer.conftest import Rig, numbers

KEY = SecretStr("key_webhook_test")


async def test_bad_signatures_are_refused_and_good_ones_queued() -> None:
    async with serve_webhook_inbox(api_key=KEY) as inbox:
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
    async with serve_webhook_inbox(api_key=KEY) as inbox, httpx.AsyncClient() as http:
        wrong_method = await http.get(inbox.url)
        wrong_path = await http.post(inbox.url.replace("/retell/webhook", "/other"), content="{}")
    assert (wrong_method.status_code, wrong_path.status_code) == (405, 404)
    assert inbox.counters.received == inbox.counters.rejected == 0


async def test_a_body_far_larger_than_any_call_is_refused_unread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webhook_inbox, "MAX_BODY_BYTES", 1000)
    body = json.dumps({"event": "call_ended", "call": {"call_id": "c1", "padding": "x" * 2000}})
    async with serve_webhook_inbox(api_key=KEY) as inbox, httpx.AsyncClient() as http:
        answer = await http.post(
            inbox.url, content=body, headers={"x-retell-signature": sign_webhook(body, KEY)}
        )
    assert answer.status_code == 413
    assert inbox.drain() == []


async def test_events_without_results_are_dropped_before_their_call_is_validated() -> None:
    async with serve_webhook_inbox(api_key=KEY) as inbox:
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


# Retell's default subscription, and the one docs/dialer.md recommends (call_started unused).
@pytest.mark.parametrize("events", [None, ["call_ended", "call_analyzed"]])
async def test_runner_settles_calls_from_webhooks(tmp_path: Path, events: list[str] | None) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade_database(engine)
    async with serve_webhook_inbox(api_key=SecretStr("key_campaigner_simulator")) as inbox:
        config = SimulatorConfig(
            speed=400,
            concurrency_limit=5,
            cps=100,
            seed=4,
            analysis_delay_s=2,
            api_key=SecretStr("key_campaigner_simulator"),
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
            campaign = rig.campaign()
            rig.ingest(campaign, numbers(20))
            # Polling would be far too slow to finish in time: only the pushed results can.
            options = RunOptions(poll_interval=60, webhook_poll_interval=60, reconcile_interval=0.1)
            async with rig.client() as client:
                runner = CampaignRunner(
                    config=campaign, engine=engine, client=client, options=options, webhooks=inbox
                )
                summary = await runner.run()
            stats = sim.stats()
    with Session(engine) as session:
        # The calls that connected: their outcome waits for the analysis (the others are settled
        # at their end, their analysis recorded only if it comes while the run goes on).
        analysed = [
            a.analysis_at is not None for a in session.exec(select(CallAttempt)) if a.duration_ms
        ]
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
