"""Webhook delivery: signed, retried, in order per call, and never in the API's way.

Each event's body is frozen when the event happens (so ``call_ended`` never carries analysis that
arrived later), serialised as Retell does (compact JSON, non-ASCII left as is) and signed with the
workspace's webhook key (the API key unless configured apart):
``x-retell-signature: v=<ms>,d=<hmac_sha256_hex(key, body + ms)>``. The timestamp is real
wall-clock time, re-taken on every attempt, because receivers check it against their own clock
(5 minutes of tolerance in the SDK's verifier) whatever the simulator's speed.

Delivery runs in background tasks. An event's first attempt waits for the first attempt of the
call's previous event, so events arrive in order; retries (up to ``retries``, on non-2xx or timeout,
with exponential backoff) do not hold back later events.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["WebhookDispatcher", "WebhookStats", "sign_webhook"]


def sign_webhook(body: str, api_key: str, timestamp_ms: int) -> str:
    """The ``x-retell-signature`` value for ``body`` at ``timestamp_ms``."""
    digest = hmac.new(api_key.encode(), (body + str(timestamp_ms)).encode(), hashlib.sha256)
    return f"v={timestamp_ms},d={digest.hexdigest()}"


@dataclass
class WebhookStats:
    """Counts of webhook events and attempts."""

    events: int = 0
    attempts: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    gave_up: int = 0

    def snapshot(self) -> dict[str, int]:
        """The counts as a dict."""
        return {
            "webhook_events": self.events,
            "webhook_attempts": self.attempts,
            "webhook_deliveries": self.delivered,
            "webhook_failures": self.failed_attempts,
            "webhook_gave_up": self.gave_up,
        }


class WebhookDispatcher:
    """Posts webhook events in background tasks."""

    def __init__(self, *, api_key: str, retries: int, backoff_s: float) -> None:
        self._api_key = api_key
        self._retries = retries
        self._backoff_s = backoff_s
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._chains: dict[str, asyncio.Future[None]] = {}
        self.stats = WebhookStats()

    async def start(self) -> None:
        """Open the HTTP client."""
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50)
        )

    async def stop(self) -> None:
        """Cancel deliveries in flight and close the client."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def in_flight(self) -> int:
        """Deliveries not yet finished (including pending retries)."""
        return len(self._tasks)

    def emit(
        self, *, call_id: str, event: str, call: Mapping[str, Any], url: str, timeout_s: float
    ) -> None:
        """Queue one event for delivery to ``url``."""
        body = json.dumps({"event": event, "call": call}, separators=(",", ":"), ensure_ascii=False)
        loop = asyncio.get_running_loop()
        previous = self._chains.get(call_id)
        first_attempt_done: asyncio.Future[None] = loop.create_future()
        self._chains[call_id] = first_attempt_done
        first_attempt_done.add_done_callback(lambda done: self._drop_chain(call_id, done))
        self.stats.events += 1
        task = loop.create_task(self._deliver(url, body, timeout_s, previous, first_attempt_done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _drop_chain(self, call_id: str, done: asyncio.Future[None]) -> None:
        if self._chains.get(call_id) is done:
            del self._chains[call_id]

    async def _deliver(
        self,
        url: str,
        body: str,
        timeout_s: float,
        previous: asyncio.Future[None] | None,
        first_attempt_done: asyncio.Future[None],
    ) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])
            for attempt in range(self._retries + 1):
                if attempt:
                    await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
                delivered = await self._attempt(url, body, timeout_s)
                if not first_attempt_done.done():
                    first_attempt_done.set_result(None)
                if delivered:
                    return
            self.stats.gave_up += 1
        finally:
            if not first_attempt_done.done():
                first_attempt_done.set_result(None)

    async def _attempt(self, url: str, body: str, timeout_s: float) -> bool:
        if self._client is None:
            raise RuntimeError("webhook dispatcher used before start()")
        self.stats.attempts += 1
        timestamp = int(time.time() * 1000)
        headers = {
            "content-type": "application/json",
            "x-retell-signature": sign_webhook(body, self._api_key, timestamp),
        }
        try:
            response = await self._client.post(
                url, content=body.encode(), headers=headers, timeout=timeout_s
            )
        except httpx.HTTPError:
            self.stats.failed_attempts += 1
            return False
        if 200 <= response.status_code < 300:
            self.stats.delivered += 1
            return True
        self.stats.failed_attempts += 1
        return False
