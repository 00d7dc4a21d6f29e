"""Webhooks: events, order, signatures (checked with the SDK's verifier), retries, targets."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from retell import Retell
from retell_sim import SimulatorHandle, sign_webhook
from tests.retell_sim.conftest import MakeSimulator
from tests.retell_sim.helpers import WebhookSink, api_client, create_call, force


def _subscribe(http: httpx.Client, url: str, **settings: object) -> None:
    response = http.patch(
        "/update-agent/agent_campaigner_demo", json={"webhook_url": url, **settings}
    )
    assert response.status_code == 200


def test_events_arrive_in_order_signed_and_shaped(
    sim: SimulatorHandle, http: httpx.Client, webhook_sink: WebhookSink
) -> None:
    _subscribe(http, webhook_sink.url)
    force(http, "+14155559001", "agent_hangup", call_successful=True)
    call = create_call(
        http,
        "+14155559001",
        metadata={"campaign": "w"},
        retell_llm_dynamic_variables={"first_name": "José"},
    )
    sim.advance(3600)
    deliveries = webhook_sink.wait_for(3)

    assert [d.payload["event"] for d in deliveries] == [
        "call_started",
        "call_ended",
        "call_analyzed",
    ]
    with Retell(api_key=sim.api_key, base_url=sim.base_url) as client:
        for delivery in deliveries:
            assert client.verify(delivery.body, sim.api_key, delivery.signature)
            assert not client.verify(delivery.body, "another key", delivery.signature)
            assert delivery.body == json.dumps(
                delivery.payload, separators=(",", ":"), ensure_ascii=False
            )
    started, ended, analyzed = (d.payload["call"] for d in deliveries)
    assert started["call_status"] == "ongoing"
    assert ended["call_status"] == "ended"
    assert "call_analysis" not in ended
    assert ended["transcript"].startswith("Agent: Hi José")
    assert "José" in deliveries[1].body
    assert analyzed["call_analysis"]["call_successful"] is True
    assert {d.payload["call"]["call_id"] for d in deliveries} == {call["call_id"]}
    assert ended["metadata"] == {"campaign": "w"}
    assert http.get("/_sim/stats").json()["webhook_deliveries"] == 3


def test_unanswered_calls_skip_call_started_and_omit_unset_fields(
    sim: SimulatorHandle, http: httpx.Client, webhook_sink: WebhookSink
) -> None:
    _subscribe(http, webhook_sink.url)
    force(http, "+14155559002", "dial_no_answer")
    create_call(http, "+14155559002")
    sim.advance(60)
    deliveries = webhook_sink.wait_for(2)
    assert [d.payload["event"] for d in deliveries] == ["call_ended", "call_analyzed"]
    for delivery in deliveries:
        assert "metadata" not in delivery.payload["call"]
        assert "retell_llm_dynamic_variables" not in delivery.payload["call"]
    assert deliveries[1].payload["call"]["call_analysis"]["custom_analysis_data"] == {}


def test_failed_deliveries_are_retried_without_holding_back_later_events(
    make_simulator: MakeSimulator, webhook_sink: WebhookSink
) -> None:
    sim = make_simulator(cps=100, webhook_retry_backoff_s=0.05)
    webhook_sink.failures = {"call_started": 2}
    with api_client(sim) as http:
        _subscribe(http, webhook_sink.url)
        force(http, "+14155559003", "user_hangup")
        create_call(http, "+14155559003")
        sim.advance(3600)
        deliveries = webhook_sink.wait_for(5)
        events = [d.payload["event"] for d in deliveries]
        assert events.count("call_started") == 3
        assert events[:2] == ["call_started", "call_ended"]  # the retries did not hold it back
        deadline = time.monotonic() + 5
        while (
            http.get("/_sim/stats").json()["webhook_deliveries"] < 3 and time.monotonic() < deadline
        ):
            time.sleep(0.02)
        stats = http.get("/_sim/stats").json()
    assert stats["webhook_failures"] == 2
    assert stats["webhook_deliveries"] == 3
    assert stats["webhook_gave_up"] == 0


def test_delivery_gives_up_after_three_retries_and_on_timeouts(
    make_simulator: MakeSimulator,
) -> None:
    sim = make_simulator(cps=100, webhook_retry_backoff_s=0.01)
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        with api_client(sim) as http:
            _subscribe(http, url, webhook_timeout_ms=100, webhook_events=["call_ended"])
            force(http, "+14155559004", "dial_busy")
            create_call(http, "+14155559004")
            sim.advance(60)
            deadline = time.monotonic() + 10
            while (
                http.get("/_sim/stats").json()["webhook_gave_up"] < 1
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
            stats = http.get("/_sim/stats").json()
    assert stats["webhook_gave_up"] == 1
    assert stats["webhook_attempts"] == 4
    assert stats["webhook_failures"] == 4


def test_only_subscribed_events_are_sent(
    sim: SimulatorHandle, http: httpx.Client, webhook_sink: WebhookSink
) -> None:
    _subscribe(http, webhook_sink.url, webhook_events=["call_analyzed"])
    force(http, "+14155559005", "agent_hangup")
    create_call(http, "+14155559005")
    sim.advance(3600)
    assert [d.payload["event"] for d in webhook_sink.wait_for(1)] == ["call_analyzed"]
    assert http.get("/_sim/stats").json()["webhook_events"] == 1


def test_account_url_unless_the_agent_has_its_own(make_simulator: MakeSimulator) -> None:
    with WebhookSink() as account, WebhookSink() as agent_sink:
        sim = make_simulator(cps=100, account_webhook_url=account.url)
        with api_client(sim) as http:
            force(http, "+14155559006", "dial_busy")
            create_call(http, "+14155559006")
            sim.advance(60)
            assert len(account.wait_for(2)) == 2
            _subscribe(http, agent_sink.url)
            create_call(http, "+14155559006")
            sim.advance(60)
            assert len(agent_sink.wait_for(2)) == 2
        assert len(account.deliveries) == 2


def test_webhooks_can_be_signed_with_a_key_other_than_the_api_key(
    make_simulator: MakeSimulator, webhook_sink: WebhookSink
) -> None:
    webhook_key = "key_webhook_badge"
    sim = make_simulator(cps=100, account_webhook_url=webhook_sink.url, webhook_api_key=webhook_key)
    with api_client(sim) as http:
        force(http, "+14155559007", "dial_busy")
        create_call(http, "+14155559007")
        sim.advance(60)
    (ended, _analyzed) = webhook_sink.wait_for(2)
    with Retell(api_key=sim.api_key, base_url=sim.base_url) as client:
        assert client.verify(ended.body, webhook_key, ended.signature)
        assert not client.verify(ended.body, sim.api_key, ended.signature)


@pytest.mark.parametrize(
    "body", ['{"event":"call_ended","call":{}}', '{"event":"x","call":{"n":"ü"}}']
)
def test_signature_format_matches_the_sdk(body: str) -> None:
    stamp = int(time.time() * 1000)
    signature = sign_webhook(body, "key_x", stamp)
    assert signature.startswith(f"v={stamp},d=")
    with Retell(api_key="key_x", base_url="http://127.0.0.1:9") as client:
        assert client.verify(body, "key_x", signature)
