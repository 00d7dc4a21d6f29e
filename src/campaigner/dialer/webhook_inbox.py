"""The push path for results: an HTTP endpoint for Retell's webhooks.

Point the agent's `webhook_url` (or the workspace's) at `http://<host>:<port>/retell/webhook`.
Every delivery is checked against `x-retell-signature` with the workspace's webhook key (Retell
signs with the key marked with the webhook badge in its dashboard: `RETELL_WEBHOOK_API_KEY`, by
default the API key) and a five-minute tolerance, answered 204 at once, and the call it carries is
queued for the runner, which settles it through the same `apply_calls` path as polling. Only
`call_ended` and `call_analyzed` carry results: other events (`call_started`, transcript updates)
are answered and dropped before their call is validated, so subscribing the agent to those two
alone (`webhook_events`) only saves work. A bad signature is answered 401 and dropped; after a run
of them the operator is told, once per run of failures, what to check (`SignatureFailures`).
Deliveries Retell repeats are harmless because `apply_calls` is idempotent. Polling stays on as the
safety net, at a slower pace: refused webhooks delay results, they do not lose them.
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
from starlette.types import Receive, Scope, Send

from campaigner.retell import (
    SIGNATURE_HEADER,
    Call,
    ResponseFormatError,
    fresh_signature,
    read_webhook_payload,
    verify_webhook,
    webhook_event_from_payload,
)

__all__ = ["WEBHOOK_PATH", "WebhookInbox", "serve_webhook_inbox"]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/retell/webhook"
# Events that carry a call's result; `call_started` only says it connected.
RESULT_EVENTS = frozenset({"call_ended", "call_analyzed"})
_SIGNATURE_KEY = SIGNATURE_HEADER.encode()
# A call with a long transcript is some hundreds of kB (its words' timings included); anything
# far past that is not Retell.
MAX_BODY_BYTES = 4 * 1024 * 1024
# Deliveries being received at once: Retell sends a few per call, a few calls a second; more is
# not Retell, and each holds up to MAX_BODY_BYTES (beyond it, uvicorn answers 503 at once).
MAX_CONNECTIONS = 32
# A body that takes longer to arrive is not Retell's (which sends a few hundred kB at once).
BODY_READ_SECONDS = 10.0
# An idle kept-alive connection is closed after this long.
KEEP_ALIVE_SECONDS = 5


# Signed deliveries refused in a row, with none accepted between, before the operator is told what
# to check. Retell tries a refused delivery four times (once and three retries), so neither one
# delivery refused nor a stray post reaches five; a key that does not match reaches it with the
# run's first call or two.
SIGNATURE_FAILURES_BEFORE_ADVICE = 5

# Words for whoever runs the campaign; never a key (the run's or the one Retell signed with).
SIGNATURE_ADVICE = (
    "Retell's webhooks are being refused: the last %d deliveries to %s failed the signature "
    "check. No result is lost: results come by polling Retell instead, only later (every few "
    "seconds rather than at each call's end). Check that RETELL_WEBHOOK_API_KEY holds the "
    "workspace's webhook key: the API key marked with the webhook badge in Retell's dashboard "
    "(API Keys), which need not be the key in RETELL_API_KEY (unset, RETELL_API_KEY is used). "
    "Check too that only agents of this workspace send their webhooks to this address, and that "
    "this machine's clock is right (a signature is good for five minutes)."
)


@dataclass
class WebhookCounters:
    received: int = 0
    rejected: int = 0


class SignatureFailures:
    """Signed deliveries refused since the last one accepted, and whether that run of failures
    has been explained to the operator.

    The advice is given once per run of failures: a delivery accepted after it shows the run's key
    is right and the refusals came from elsewhere (stray posts, another workspace), so a new run
    of failures after that (the webhook key rotated in the dashboard mid-run, say) is a new
    problem worth a new warning; while nothing is accepted, one warning says all there is."""

    def __init__(self) -> None:
        self._in_a_row = 0

    def refused(self) -> bool:
        """Count a refused delivery; True when it is the one that calls for the advice."""
        self._in_a_row += 1
        return self._in_a_row == SIGNATURE_FAILURES_BEFORE_ADVICE

    @property
    def refusing(self) -> bool:
        """Enough deliveries were refused in a row to call for the advice: the key is wrong."""
        return self._in_a_row >= SIGNATURE_FAILURES_BEFORE_ADVICE

    @property
    def explained(self) -> bool:
        """Whether the operator has been told about this run of failures already."""
        return self._in_a_row > SIGNATURE_FAILURES_BEFORE_ADVICE

    def accepted(self) -> None:
        """A delivery passed the check: the run of failures is over."""
        self._in_a_row = 0


class WebhookInbox:
    """Verified webhook deliveries, as calls waiting to be applied."""

    def __init__(self, *, webhook_api_key: SecretStr) -> None:
        self._webhook_api_key = webhook_api_key
        self.calls: asyncio.Queue[Call] = asyncio.Queue()
        self.counters = WebhookCounters()
        self._signature_failures = SignatureFailures()
        self.url = ""
        # Told of each call queued (the runner decides whether it must wake for it).
        self.notify: Callable[[Call], None] | None = None

    @property
    def refusing_signatures(self) -> bool:
        """Signed deliveries are being refused (a run of them, none accepted since): results
        will not come by webhook, and the run must poll as if it had none."""
        return self._signature_failures.refusing

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app: `POST WEBHOOK_PATH`, answered with an empty body. Plain ASGI rather
        than a framework's routing and middleware: a run receives two or three of these per
        call, and their overhead counted in its CPU per call."""
        if scope["type"] != "http":
            return
        if scope["path"] != WEBHOOK_PATH:
            status = 404
        elif scope["method"] != "POST":
            status = 405
        elif fresh_signature(signature := _signature(scope)) is None:
            # Unsigned, or a signature of the wrong shape or age: refused before the body is read
            # (an unsigned post is no sign of a wrong key: it counts toward no advice).
            if signature is None:
                self.counters.rejected += 1
            else:
                self._refuse_signature()
            status = 401
        else:
            try:
                async with asyncio.timeout(BODY_READ_SECONDS):
                    body = await _read_body(receive)
            except TimeoutError:
                self.counters.rejected += 1
                status = 408
            else:
                status = 413 if body is None else self._take(body, signature)
        headers = [(b"content-length", b"0")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    def _take(self, body: bytes, signature: str | None) -> int:
        """Check and queue one delivery; the HTTP status to answer with."""
        if not verify_webhook(body, self._webhook_api_key, signature):
            self._refuse_signature()
            return 401
        self._signature_failures.accepted()
        try:
            payload = read_webhook_payload(body)
            kind = payload.get("event")
            event = (
                webhook_event_from_payload(payload)
                if isinstance(kind, str) and kind in RESULT_EVENTS
                else None
            )
        except ResponseFormatError as error:
            self.counters.rejected += 1
            log.warning("unreadable webhook rejected: %s", error)
            return 400
        self.counters.received += 1
        if event is not None:
            self.calls.put_nowait(event.call)
            if self.notify is not None:
                self.notify(event.call)
        return 204

    def _refuse_signature(self) -> None:
        """Count a signed delivery the key does not verify, and say what to check after a run of
        them. Once explained, each further refusal is only a debug line: with a wrong key every
        webhook of the run is refused, and a warning each would bury the advice."""
        self.counters.rejected += 1
        calls_for_advice = self._signature_failures.refused()
        level = logging.DEBUG if self._signature_failures.explained else logging.WARNING
        log.log(level, "webhook with an invalid signature rejected")
        if calls_for_advice:
            log.warning(SIGNATURE_ADVICE, SIGNATURE_FAILURES_BEFORE_ADVICE, self.url)

    def drain(self) -> list[Call]:
        """Every call queued so far, without waiting."""
        drained = []
        while not self.calls.empty():
            drained.append(self.calls.get_nowait())
        return drained


def _signature(scope: Scope) -> str | None:
    for key, value in scope["headers"]:
        if key == _SIGNATURE_KEY:
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None past `MAX_BODY_BYTES` (the rest is not read into memory)."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


@asynccontextmanager
async def serve_webhook_inbox(
    *, webhook_api_key: SecretStr, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[WebhookInbox]:
    """Serve a `WebhookInbox` checking signatures with `webhook_api_key` (the workspace's webhook
    key, `Settings.resolved_webhook_api_key`) on the running event loop for the duration of the
    block."""
    inbox = WebhookInbox(webhook_api_key=webhook_api_key)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    server = uvicorn.Server(
        uvicorn.Config(
            inbox.app,
            # httptools: less CPU per webhook than the pure-Python h11 (bench/http_floor.py).
            http="httptools",
            # A bound method, which uvicorn's detection would take for an ASGI 2 app.
            interface="asgi3",
            log_level="warning",
            access_log=False,
            lifespan="off",
            # Webhooks are plain POSTs: an upgrade request is answered by uvicorn, not the app.
            ws="none",
            limit_concurrency=MAX_CONNECTIONS,
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
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
