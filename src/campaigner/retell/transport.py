"""A lean HTTP/1.1 transport for httpx: keep-alive connections on asyncio protocols, answers
parsed by httptools.

httpx's own transport (httpcore on anyio, h11) costs about 0.4 ms of CPU per request on this
project's machines, a fifth of the dialer's budget per call: `bench/http_floor.py` measured a
create through `RetellClient` at 0.67 ms on it and 0.28 ms on this one. It does only what
`RetellClient` needs: HTTP/1.1 over TCP or TLS, straight to the server (no proxies: the client
keeps httpx's own transport when one is configured), whole bodies in memory.

Unlike httpx's transport: the read timeout bounds the whole answer (not each read), there is no
write timeout (requests are small; the read timeout covers a stalled write), and on uvloop the
addresses of a host are tried one after another rather than raced (asyncio's loop races IPv6
and IPv4, as httpx does); `CAMPAIGNER_HTTP_STACK=httpx` is the way back to httpx's own.

It raises httpx's exceptions with httpx's meanings, which the client's retry and ambiguity rules
rest on: `ConnectError`, `ConnectTimeout` and `PoolTimeout` only while the request has not been
written; once it may have been, `ReadTimeout`, `ReadError` or `RemoteProtocolError`.
"""

from __future__ import annotations

import asyncio
import select
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

import httptools
import httpx

__all__ = ["LeanTransport"]

# httpx's default: idle connections are dropped after 5 s, so that a server's keep-alive timeout
# rarely closes one under a request (the check before reuse catches the rest).
KEEPALIVE_EXPIRY = 5.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Hop-by-hop framing is this transport's own: the body is always sent whole, with its length.
_FRAMING_HEADERS = frozenset({b"content-length", b"transfer-encoding", b"connection"})

Origin = tuple[str, str, int]


@dataclass
class _Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool


@dataclass
class _Timeouts:
    connect: float | None
    read: float | None
    pool: float | None

    @classmethod
    def of(cls, request: httpx.Request) -> _Timeouts:
        given = request.extensions.get("timeout", {})
        return cls(given.get("connect"), given.get("read"), given.get("pool"))


class _Connection(asyncio.Protocol):
    """One keep-alive connection: a request written whole, then its answer awaited."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.idle_since = 0.0
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[_Answer] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._headers_done = False
        self._length_known = False
        self._got_bytes = False
        self._closed = False

    # -- use -----------------------------------------------------------------------------------

    @property
    def usable(self) -> bool:
        """Open, and not told by the server that it is closing."""
        return not self._closed and self._transport is not None and not self._transport.is_closing()

    def reusable(self) -> bool:
        """Usable, with nothing arrived since its last answer: bytes on an idle connection are a
        close (or a stray answer) the loop has not read yet, and a request written now would be
        lost. httpcore checks the same way."""
        if not self.usable:
            return False
        assert self._transport is not None
        sock = self._transport.get_extra_info("socket")
        if sock is None:
            return False
        if not hasattr(select, "poll"):  # Windows, whose select has no limit on descriptor numbers
            readable, _, _ = select.select([sock], [], [], 0)
            return not readable
        # poll, not select: select refuses descriptors above 1023, which a busy process has.
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return not poller.poll(0)

    async def exchange(self, message: bytes, read_timeout: float | None) -> _Answer:
        """Write one request and wait for its whole answer."""
        assert self._transport is not None
        if not self.usable:
            # Closed by the server between connecting and now: the request would go nowhere and
            # its answer never come. Nothing is written, so it is safe to send again.
            raise httpx.ConnectError("the server closed the connection before the request")
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        self._headers, self._body = [], []
        self._headers_done = self._length_known = self._got_bytes = False
        self._transport.write(message)
        timer = loop.call_later(read_timeout, self._time_out) if read_timeout is not None else None
        try:
            return await self._waiter
        finally:
            if timer is not None:
                timer.cancel()
            self._waiter = None

    def close(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.close()

    def _time_out(self) -> None:
        self._fail(httpx.ReadTimeout("timed out waiting for the answer"))

    def _fail(self, error: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        self.close()

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, but have its methods.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            # Bytes nobody asked for: the server is out of step, so the connection is not reused.
            self.close()
            return
        self._got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # A 101 (or an upgrade) to a request that asked for none: not HTTP/1.1 any more.
            self._fail(httpx.RemoteProtocolError("the server switched protocols unasked"))
        except httptools.HttpParserError as error:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP answer: {error}"))

    def eof_received(self) -> bool:
        if self._waiter is not None and not self._waiter.done():
            if self._headers_done and not self._length_known:
                # A body without a length ends where the connection does.
                self._complete(keep_alive=False)
            elif self._got_bytes:
                self._fail(httpx.RemoteProtocolError("the server closed mid-answer"))
            else:
                self._fail(
                    httpx.RemoteProtocolError("Server disconnected without sending a response.")
                )
        self._closed = True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if exc is not None:
            self._fail(httpx.ReadError(f"connection lost: {type(exc).__name__}"))
        else:
            self._fail(httpx.RemoteProtocolError("Server disconnected without sending a response."))

    # -- httptools callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._waiter is None or self._waiter.done():
            # A second answer in the bytes that ended the first: out of step, as in data_received.
            self.close()
        # A fresh list for each message: the answer handed on keeps its own headers.
        self._headers, self._body = [], []

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length" or (
            lowered == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            self._length_known = True

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            # An interim answer (100 Continue, 103 Early Hints): the real one follows.
            self._headers, self._body = [], []
            self._headers_done = self._length_known = False
            return
        self._complete(keep_alive=self._parser.should_keep_alive())

    def _complete(self, *, keep_alive: bool) -> None:
        if self._waiter is None or self._waiter.done():
            return
        answer = _Answer(
            status=self._parser.get_status_code(),
            headers=self._headers,
            body=b"".join(self._body),
            keep_alive=keep_alive,
        )
        self._waiter.set_result(answer)


@dataclass
class _Pool:
    """Connections by origin: the idle ones to reuse, and a cap on how many are open."""

    max_connections: int
    max_keepalive: int
    idle: dict[Origin, deque[_Connection]] = field(default_factory=dict)
    open: int = 0
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)

    def take_idle(self, origin: Origin, now: float) -> _Connection | None:
        """The most recently used live idle connection to `origin`; stale ones are closed."""
        idle = self.idle.get(origin)
        while idle:
            connection = idle.pop()
            if now - connection.idle_since < KEEPALIVE_EXPIRY and connection.reusable():
                return connection
            self.discard(connection)
        return None

    def make_room(self) -> bool:
        """Whether a new connection may be opened (closing an idle one elsewhere if need be)."""
        if self.open < self.max_connections:
            return True
        oldest = min(
            (queue[0] for queue in self.idle.values() if queue),
            key=lambda connection: connection.idle_since,
            default=None,
        )
        if oldest is None:
            return False
        self.idle[oldest.origin].popleft()
        self.discard(oldest)
        return True

    def give_back(self, connection: _Connection, now: float) -> None:
        idle = self.idle.setdefault(connection.origin, deque())
        kept = sum(len(queue) for queue in self.idle.values())
        if connection.usable and kept < self.max_keepalive:
            connection.idle_since = now
            idle.append(connection)
            self.wake_one()
        else:
            self.discard(connection)

    def discard(self, connection: _Connection) -> None:
        connection.close()
        self.release_slot()

    def release_slot(self) -> None:
        """One connection fewer is open: the next request in line may open one."""
        self.open -= 1
        self.wake_one()

    def wake_all(self) -> None:
        while self.waiters:
            self.wake_one()

    def wake_one(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


class LeanTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncBaseTransport` for HTTP/1.1 keep-alive requests with whole bodies.

    Usage: `httpx.AsyncClient(transport=LeanTransport())`. Limits have httpx's meanings;
    `verify` is an `ssl.SSLContext`, or True for httpx's default verification.
    """

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 100,
        max_keepalive_connections: int = 20,
    ) -> None:
        self._verify = verify
        self._ssl_context: ssl.SSLContext | None = None
        self._pool = _Pool(max_connections, max_keepalive_connections)
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise _closed_error()
        if request.method == "HEAD":
            # httptools cannot be told an answer has no body; the client never sends HEAD.
            raise httpx.UnsupportedProtocol("the lean transport does not send HEAD requests")
        message = _request_message(request, await request.aread())
        timeouts = _Timeouts.of(request)
        connection = await self._acquire(_origin(request.url), timeouts)
        try:
            answer = await connection.exchange(message, timeouts.read)
        except BaseException:
            # Cancelled or failed mid-exchange: what is left on the wire is unknown.
            self._pool.discard(connection)
            raise
        if answer.keep_alive and not self._closed:
            self._pool.give_back(connection, time.monotonic())
        else:
            self._pool.discard(connection)
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=httpx.ByteStream(answer.body),
            extensions={"http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._pool.idle.values():
            while idle:
                self._pool.discard(idle.pop())
        # Requests waiting for a connection learn at once that none will come.
        self._pool.wake_all()

    async def _acquire(self, origin: Origin, timeouts: _Timeouts) -> _Connection:
        """A connection to `origin`: an idle one, a new one, or the first freed within the pool
        timeout."""
        loop = asyncio.get_running_loop()
        deadline = None if timeouts.pool is None else loop.time() + timeouts.pool
        while True:
            if self._closed:
                raise _closed_error()
            connection = self._pool.take_idle(origin, time.monotonic())
            if connection is not None:
                return connection
            if self._pool.make_room():
                return await self._connect(origin, timeouts.connect)
            waiter: asyncio.Future[None] = loop.create_future()
            self._pool.waiters.append(waiter)
            try:
                # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives
                # as the waiter is woken, and the request would then be sent after all.
                async with asyncio.timeout_at(deadline):
                    await waiter
            except BaseException as error:
                if waiter.done() and not waiter.cancelled():
                    # Woken as it gave up: the connection freed goes to the next in line.
                    self._pool.wake_one()
                if isinstance(error, TimeoutError):
                    raise httpx.PoolTimeout("no connection came free in time") from None
                raise

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        self._pool.open += 1
        try:
            context = self._context() if scheme == "https" else None
            loop = asyncio.get_running_loop()
            async with asyncio.timeout(timeout):  # see _acquire: not wait_for
                _, connection = await loop.create_connection(
                    lambda: _Connection(origin),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context is not None else None,
                    **_address_racing(loop),
                )
        except TimeoutError:
            self._pool.release_slot()
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as error:
            self._pool.release_slot()
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {error}") from None
        except BaseException:
            self._pool.release_slot()
            raise
        return connection

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            if isinstance(self._verify, ssl.SSLContext):
                self._ssl_context = self._verify
            else:
                self._ssl_context = httpx.create_ssl_context(verify=self._verify)
                self._ssl_context.set_alpn_protocols(["http/1.1"])
        return self._ssl_context


def _address_racing(loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    """Happy eyeballs (RFC 8305) where the loop has it: a host whose IPv6 route is black-holed
    still connects over IPv4 within the connect timeout. uvloop's create_connection has no such
    option."""
    if isinstance(loop, asyncio.BaseEventLoop):
        return {"happy_eyeballs_delay": 0.25, "interleave": 1}
    return {}


def _closed_error() -> httpx.ConnectError:
    # Nothing was sent: a ConnectError, like httpx's pool once it is closed.
    return httpx.ConnectError("the transport is closed")


def _origin(url: httpx.URL) -> Origin:
    if url.scheme not in _DEFAULT_PORTS:
        raise httpx.UnsupportedProtocol(f"the lean transport speaks http(s), not {url.scheme}")
    return (url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme])


def _request_message(request: httpx.Request, body: bytes) -> bytes:
    """The request line, headers and body, as written to the connection."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    for name, value in request.headers.raw:
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
            raise httpx.LocalProtocolError("a header name or value holds a line break")
        if name.lower() not in _FRAMING_HEADERS:
            lines.append(name + b": " + value)
    if body or request.method not in {"GET", "HEAD", "DELETE", "OPTIONS"}:
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"")
    lines.append(body)
    return b"\r\n".join(lines)
