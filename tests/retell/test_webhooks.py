"""Signatures made here verify with Retell's own SDK verifier, and the other way round."""

from __future__ import annotations

import json

import pytest
from retell.lib.webhook_auth import symmetric as sdk_webhooks

from campaigner.retell import (
    ResponseFormatError,
    parse_webhook_event,
    sign_webhook,
    verify_webhook,
)

KEY = "key_webhook_badge"
NOW_MS = 1_790_000_000_000
BODY = json.dumps(
    {"event": "call_ended", "call": {"call_id": "c1", "call_status": "ended", "note": "café"}},
    separators=(",", ":"),
    ensure_ascii=False,
)


def test_our_signature_verifies_with_the_sdk() -> None:
    signature = sign_webhook(BODY, KEY, timestamp_ms=NOW_MS)
    assert sdk_webhooks["verify"](BODY, KEY, signature, {"timestamp": NOW_MS})


def test_sdk_signature_verifies_here() -> None:
    signature = sdk_webhooks["sign"](BODY, KEY, NOW_MS)
    assert verify_webhook(BODY.encode(), KEY, signature, now_ms=NOW_MS)


@pytest.mark.parametrize(
    ("body", "key", "skew_ms"),
    [
        (BODY + " ", KEY, 0),
        (BODY, "other_key", 0),
        (BODY, KEY, 300_001),
        (BODY, KEY, -300_001),
    ],
)
def test_tampered_wrong_key_or_stale_signatures_fail(body: str, key: str, skew_ms: int) -> None:
    signature = sign_webhook(BODY, KEY, timestamp_ms=NOW_MS)
    assert not verify_webhook(body, key, signature, now_ms=NOW_MS + skew_ms)


def test_within_tolerance_passes() -> None:
    signature = sign_webhook(BODY, KEY, timestamp_ms=NOW_MS)
    assert verify_webhook(BODY, KEY, signature, now_ms=NOW_MS + 300_000)


@pytest.mark.parametrize(
    "signature",
    [None, "", "v=1,d=abc", "x v=1,d=" + "a" * 64, "v=1,d=" + "A" * 64, "d=" + "a" * 64],
)
def test_malformed_signatures_fail(signature: str | None) -> None:
    assert not verify_webhook(BODY, KEY, signature, now_ms=NOW_MS)


def test_parse_event_and_legacy_data_key() -> None:
    event = parse_webhook_event(BODY)
    assert event.event == "call_ended"
    assert event.call.call_id == "c1"
    legacy_call = {"call_id": "c2", "call_status": "ongoing"}
    legacy = parse_webhook_event(json.dumps({"event": "call_started", "data": legacy_call}))
    assert legacy.call.call_id == "c2"
    with pytest.raises(ResponseFormatError):
        parse_webhook_event("not json")
    with pytest.raises(ResponseFormatError):
        parse_webhook_event('{"event": "call_ended"}')
