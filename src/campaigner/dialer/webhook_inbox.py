"""The push path for results: an HTTP endpoint for Retell's webhooks.

Point the agent's `webhook_url` (or the workspace's) at `http://<host>:<port>/retell/webhook`.
Every delivery is checked against `x-retell-signature` with the API key and a five-minute
tolerance, answered 204 at once, and the call it carries is queued for the runner, which settles it
through the same `apply_call` path as polling. Only `call_ended` and `call_analyzed` carry results:
other events (`call_started`, transcript updates) are answered and dropped before their call is
validated, so subscribing the agent to those two alone (`webhook_events`) only saves work. A bad
signature is answered 401 and dropped; deliveries Retell repeats are harmless because `apply_call`
is idempotent. Polling stays on as the safety net, at a slower pace.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from campaigner.retell import (
    SIGNATURE_HEADER,
    Call,
    ResponseFormatError,
    read_webhook_payload,
    verify_webhook,
    webhook_event_from_payload,
)

__all__ = ["WEBHOOK_PATH", "WebhookInbox", "serve_webhook_inbox"]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/retell/webhook"
# Events that carry a call's result; `call_started` only says it connected.
RESULT_EVENTS = frozenset({"call_ended", "call_analyzed"})


@dataclass
class WebhookCounters:
    received: int = 0
    rejected: int = 0


class WebhookInbox:
    """Verified webhook deliveries, as calls waiting to be applied."""

    def __init__(self, *, api_key: SecretStr) -> None:
        self._api_key = api_key
        self.calls: asyncio.Queue[Call] = asyncio.Queue()
        self.counters = WebhookCounters()
        self.url = ""
        # Told of each call queued (the runner decides whether it must wake for it).
        self.notify: Callable[[Call], None] | None = None
        self.app = Starlette(routes=[Route(WEBHOOK_PATH, self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        if not verify_webhook(body, self._api_key, request.headers.get(SIGNATURE_HEADER)):
            self.counters.rejected += 1
            log.warning("webhook with a missing or invalid signature rejected")
            return Response(status_code=401)
        try:
            payload = read_webhook_payload(body)
            event = (
                webhook_event_from_payload(payload)
                if payload.get("event") in RESULT_EVENTS
                else None
            )
        except ResponseFormatError as error:
            self.counters.rejected += 1
            log.warning("unreadable webhook rejected: %s", error)
            return Response(status_code=400)
        self.counters.received += 1
        if event is not None:
            self.calls.put_nowait(event.call)
            if self.notify is not None:
                self.notify(event.call)
        return Response(status_code=204)

    def drain(self) -> list[Call]:
        """Every call queued so far, without waiting."""
        drained = []
        while not self.calls.empty():
            drained.append(self.calls.get_nowait())
        return drained


@asynccontextmanager
async def serve_webhook_inbox(
    *, api_key: SecretStr, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[WebhookInbox]:
    """Serve a `WebhookInbox` on the running event loop for the duration of the block."""
    inbox = WebhookInbox(api_key=api_key)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(
        uvicorn.Config(
            inbox.app,
            # httptools parses a webhook in about half the CPU time of the pure-Python h11.
            http="httptools",
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task
                raise OSError(f"the webhook receiver could not listen on {host}:{port}")
            await asyncio.sleep(0.01)
        bound_host, bound_port = sock.getsockname()[:2]
        inbox.url = f"http://{bound_host}:{bound_port}{WEBHOOK_PATH}"
        yield inbox
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        sock.close()
