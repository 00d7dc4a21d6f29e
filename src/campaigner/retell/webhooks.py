"""Retell webhook signatures (`x-retell-signature`) and payloads.

The header is `v=<timestamp_ms>,d=<hex>` where hex is HMAC-SHA256, keyed with the workspace's
webhook key (the API key marked with the webhook badge in Retell's dashboard, which need not be the
key API calls use), over the raw body followed by the timestamp's decimal digits. A signature is
accepted only within five minutes of its timestamp and is compared in constant time -- exactly as
Retell's SDK verifies it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from campaigner.retell.errors import ResponseFormatError
from campaigner.retell.models import Call, loggable_call_id, validation_problems

__all__ = [
    "SIGNATURE_HEADER",
    "SIGNATURE_TOLERANCE_MS",
    "WebhookEvent",
    "fresh_signature",
    "parse_webhook_event",
    "read_webhook_payload",
    "sign_webhook",
    "verify_webhook",
    "webhook_event_from_payload",
]

SIGNATURE_HEADER = "x-retell-signature"
SIGNATURE_TOLERANCE_MS = 5 * 60 * 1000
# A millisecond timestamp has 13 digits; a longer one is not Retell's (and Python refuses to
# convert digit strings past a few thousand digits).
_SIGNATURE = re.compile(r"v=(\d{1,16}),d=([0-9a-f]{64})")


def _key_bytes(webhook_api_key: SecretStr | str) -> bytes:
    if isinstance(webhook_api_key, SecretStr):
        return webhook_api_key.get_secret_value().encode()
    return webhook_api_key.encode()


def _as_bytes(body: bytes | str) -> bytes:
    # Signed as bytes: a body that is not UTF-8 fails the check instead of raising.
    return body.encode() if isinstance(body, str) else body


def _digest(webhook_api_key: SecretStr | str, body: bytes, timestamp_ms: int) -> str:
    message = body + str(timestamp_ms).encode()
    return hmac.new(_key_bytes(webhook_api_key), message, hashlib.sha256).hexdigest()


def sign_webhook(
    body: bytes | str, webhook_api_key: SecretStr | str, *, timestamp_ms: int | None = None
) -> str:
    """The `x-retell-signature` value Retell would send with this body."""
    stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    return f"v={stamp},d={_digest(webhook_api_key, _as_bytes(body), stamp)}"


def verify_webhook(
    body: bytes | str,
    webhook_api_key: SecretStr | str,
    signature: str | None,
    *,
    now_ms: int | None = None,
    tolerance_ms: int = SIGNATURE_TOLERANCE_MS,
) -> bool:
    """True when `signature` was made with `webhook_api_key` over `body` less than five minutes
    ago."""
    fresh = fresh_signature(signature, now_ms=now_ms, tolerance_ms=tolerance_ms)
    if fresh is None:
        return False
    stamp, digest = fresh
    return hmac.compare_digest(_digest(webhook_api_key, _as_bytes(body), stamp), digest)


def fresh_signature(
    signature: str | None,
    *,
    now_ms: int | None = None,
    tolerance_ms: int = SIGNATURE_TOLERANCE_MS,
) -> tuple[int, str] | None:
    """The timestamp and digest of a well-formed `x-retell-signature` made less than five minutes
    ago (None otherwise): what can be checked before the body is read."""
    if not signature:
        return None
    match = _SIGNATURE.fullmatch(signature)
    if match is None:
        return None
    stamp = int(match.group(1))
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - stamp) > tolerance_ms:
        return None
    return stamp, match.group(2)


class WebhookEvent(BaseModel):
    """A webhook delivery: `call_started`, `call_ended`, `call_analyzed`, ..."""

    model_config = ConfigDict(extra="allow")

    event: str
    call: Call


def parse_webhook_event(body: bytes | str) -> WebhookEvent:
    """Parse a (verified) webhook body; Retell's older payloads used `data` instead of `call`."""
    return webhook_event_from_payload(read_webhook_payload(body))


def read_webhook_payload(body: bytes | str) -> dict[str, Any]:
    """A (verified) webhook body as JSON, with the older key names (`data`, `event_type`) moved to
    `call` and `event`, so a receiver can look at `payload.get("event")` before validating the
    call it carries."""
    try:
        loaded: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ResponseFormatError("webhook body is not JSON") from None
    if not isinstance(loaded, dict):
        raise ResponseFormatError("webhook body is not a JSON object")
    payload: dict[str, Any] = loaded
    if "call" not in payload and "data" in payload:
        payload = {**payload, "call": payload["data"]}
    if "event" not in payload and "event_type" in payload:
        payload = {**payload, "event": payload["event_type"]}
    return payload


def webhook_event_from_payload(payload: dict[str, Any]) -> WebhookEvent:
    """Validate a payload from `read_webhook_payload` as a Retell event."""
    try:
        return WebhookEvent.model_validate(payload)
    except ValidationError as exc:
        call = loggable_call_id(payload.get("call"))
        message = f"webhook of call {call} is not a Retell event ({validation_problems(exc)})"
        raise ResponseFormatError(message) from None
