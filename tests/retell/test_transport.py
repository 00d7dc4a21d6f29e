"""LeanTransport against scripted servers: HTTP/1.1 as a client must speak it, and httpx's
exception meanings, which the client's retry and ambiguity rules rest on. `ConnectError`,
`ConnectTimeout` and `PoolTimeout` tell the client a create may be sent again, so they are only
allowed while nothing of the request was written; later failures must be `ReadTimeout`,
`ReadError` or `RemoteProtocolError`.

Each server is an `asyncio` server on 127.0.0.1 whose every connection runs a script: the bytes
it answers with, when it closes. Timeouts are short where a timeout is what is tested, and a
second or two elsewhere so that a broken transport fails a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import inspect
import json
import logging
import os
import resource
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx
import pytest
import trustme

from campaigner.retell import transport as transport_module
from campaigner.retell.transport import KEEPALIVE_EXPIRY, LeanTransport

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
# Long enough never to fire on a working transport, short enough to fail a broken one quickly.
PATIENCE = 2.0
# A pool timeout a request queued by mistake would meet, well past what these tests wait.
POOL_1S = httpx.Timeout(PATIENCE, pool=1.0)


@dataclass
class Received:
    """One request as the server read it off the wire."""

    line: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key.lower() == name]


class Peer:
    """The server's end of one accepted connection."""

    def __init__(
        self, server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.closed_by_client = False

    async def read_request(self) -> Received | None:
        """The next request whole, or None when the client closed between requests."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as error:
            if error.partial:
                raise
            await self.server.note(lambda: setattr(self, "closed_by_client", True))
            return None
        line, *lines = head[:-4].split(b"\r\n")
        headers = [(name, value) for name, _, value in (h.partition(b": ") for h in lines)]
        received = Received(line, headers, b"")
        lengths = received.header(b"content-length")
        received.body = await self.reader.readexactly(int(lengths[0]) if lengths else 0)
        await self.server.note(lambda: self.server.received.append(received))
        return received

    async def until_client_closes(self, *, expect_nothing: bool = True) -> None:
        """Note when the client closes; unless told otherwise, it must send nothing first."""
        rest = await self.reader.read()
        assert rest == b"" or not expect_nothing, rest
        await self.server.note(lambda: setattr(self, "closed_by_client", True))

    async def client_closes(self) -> None:
        """Wait until the client closes this connection (TimeoutError if it does not soon)."""
        await self.server.until(lambda: self.closed_by_client)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


Script = Callable[[Peer], Awaitable[None]]


class Server:
    """A scripted HTTP server on 127.0.0.1: every accepted connection runs `script`."""

    def __init__(self, script: Script, *, tls: ssl.SSLContext | None = None) -> None:
        self._script = script
        self._tls = tls
        self.peers: list[Peer] = []
        self.received: list[Received] = []
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._errors: list[Exception] = []
        self._server: asyncio.Server | None = None
        self._port = 0

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self._port}"

    @property
    def accepts(self) -> int:
        return len(self.peers)

    async def note(self, change: Callable[[], None]) -> None:
        async with self._changed:
            change()
            self._changed.notify_all()

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait until `predicate` holds (checked after each accept, request and client close)."""
        async with asyncio.timeout(PATIENCE), self._changed:
            await self._changed.wait_for(predicate)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        peer = Peer(self, reader, writer)
        await self.note(lambda: self.peers.append(peer))
        try:
            await self._script(peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away mid-script: what some tests do on purpose
        except asyncio.CancelledError:
            pass  # stopped at the test's end (asyncio's streams log a handler ending cancelled)
        except Exception as error:
            self._errors.append(error)  # a script's assertion, raised in the test by __aexit__

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._tls)
        self._port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for peer in self.peers:
            peer.writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        if self._errors and exc is None:
            raise self._errors[0]


async def answer_each(peer: Peer, answer: bytes = OK) -> None:
    """A well-behaved keep-alive server: every request gets `answer`, until the client closes."""
    while await peer.read_request() is not None:
        peer.send(answer)


async def silent(peer: Peer) -> None:
    """Reads the request and never answers."""
    await peer.read_request()
    await peer.until_client_closes()


def first_answer_held_until(gate: asyncio.Event) -> Script:
    """A server that answers its first request once `gate` is set, then every one at once: a
    connection kept busy for as long as a test needs."""

    async def script(peer: Peer) -> None:
        await peer.read_request()
        await gate.wait()
        peer.send(OK)
        await answer_each(peer)

    return script


def lean_client(
    transport: LeanTransport | None = None, timeout: httpx.Timeout | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=transport or LeanTransport(), timeout=timeout or httpx.Timeout(PATIENCE)
    )


# -- what goes out, what comes back ----------------------------------------------------------


async def test_a_post_reaches_the_server_with_its_line_host_length_headers_and_body() -> None:
    async with Server(answer_each) as server, lean_client() as client:
        await client.post(
            server.url + "/v2/create-phone-call?x=1",
            json={"to_number": "+12125550123", "idempotency_key": "k1"},
            headers={"Authorization": "Bearer key_1", "X-Trace": "t-7"},
        )
    (request,) = server.received
    assert request.line == b"POST /v2/create-phone-call?x=1 HTTP/1.1"
    assert request.header(b"host") == [server.url.removeprefix("http://").encode()]
    assert request.header(b"content-length") == [str(len(request.body)).encode()]
    assert request.header(b"transfer-encoding") == []
    assert request.header(b"authorization") == [b"Bearer key_1"]
    assert request.header(b"x-trace") == [b"t-7"]
    assert request.header(b"content-type") == [b"application/json"]
    assert json.loads(request.body) == {"to_number": "+12125550123", "idempotency_key": "k1"}


async def test_the_answers_status_headers_and_body_come_back() -> None:
    body = b'{"call_id": "call_1"}'
    answer = (
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Request-Id: r-1\r\n"
        b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )

    async def script(peer: Peer) -> None:
        await answer_each(peer, answer)

    async with Server(script) as server, lean_client() as client:
        response = await client.post(server.url + "/", content=b"{}")
    assert response.status_code == 201
    assert response.headers["x-request-id"] == "r-1"
    assert response.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert response.json() == {"call_id": "call_1"}
    assert response.http_version == "HTTP/1.1"


async def test_requests_without_a_body_carry_a_length_only_where_http_expects_one() -> None:
    async with Server(answer_each) as server, lean_client() as client:
        await client.get(server.url + "/a")
        await client.delete(server.url + "/b")
        await client.post(server.url + "/c")
    get, delete, post = server.received
    assert get.header(b"content-length") == []
    assert delete.header(b"content-length") == []
    # A POST with no length would leave the server waiting for a body that is not coming.
    assert post.header(b"content-length") == [b"0"]


async def test_a_streamed_request_body_goes_out_whole_with_its_length_not_chunked() -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b'{"a": '
        yield b"1}"

    async with Server(answer_each) as server, lean_client() as client:
        await client.post(server.url + "/", content=parts())
    (request,) = server.received
    assert request.header(b"transfer-encoding") == []
    assert request.header(b"content-length") == [b"8"]
    assert request.body == b'{"a": 1}'


async def test_a_gzip_answer_is_decoded_by_httpx() -> None:
    packed = gzip.compress(b'{"items": []}')
    answer = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (
        len(packed),
        packed,
    )

    async def script(peer: Peer) -> None:
        await answer_each(peer, answer)

    async with Server(script) as server, lean_client() as client:
        response = await client.get(server.url + "/")
    assert response.json() == {"items": []}


async def test_a_chunked_answer_is_read_to_its_last_chunk_and_the_connection_kept() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"
    )

    async def script(peer: Peer) -> None:
        await answer_each(peer, answer)

    async with Server(script) as server, lean_client() as client:
        first = await client.get(server.url + "/")
        second = await client.get(server.url + "/")
    assert first.text == second.text == "hello world"
    # The end of a chunked body was found without the server closing: the connection served both.
    assert server.accepts == 1


async def test_an_answer_dribbled_byte_by_byte_is_read_whole() -> None:
    body = b'{"call_id": "call_1", "call_status": "registered"}'
    answer = b"HTTP/1.1 200 OK\r\nX-Long-Header: %s\r\nContent-Length: %d\r\n\r\n%s" % (
        b"v" * 40,
        len(body),
        body,
    )

    async def script(peer: Peer) -> None:
        await peer.read_request()
        for index in range(len(answer)):
            peer.send(answer[index : index + 1])
            # Let the client's loop read each byte on its own: headers and body arrive split.
            await asyncio.sleep(0)
            await asyncio.sleep(0)

    async with Server(script) as server, lean_client() as client:
        response = await client.get(server.url + "/")
    assert response.headers["x-long-header"] == "v" * 40
    assert response.content == body


async def test_a_megabyte_each_way_arrives_whole() -> None:
    big = bytes(range(256)) * 4096

    async def script(peer: Peer) -> None:
        request = await peer.read_request()
        assert request is not None
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(request.body))
        peer.send(request.body[::-1])
        await peer.until_client_closes()

    async with Server(script) as server, lean_client() as client:
        response = await client.post(server.url + "/", content=big)
    assert server.received[0].body == big
    assert response.content == big[::-1]


async def test_a_204_answer_ends_at_its_headers_and_keeps_the_connection() -> None:
    async def script(peer: Peer) -> None:
        await answer_each(peer, b"HTTP/1.1 204 No Content\r\n\r\n")

    async with Server(script) as server, lean_client() as client:
        first = await client.delete(server.url + "/delete-call/c1")
        second = await client.delete(server.url + "/delete-call/c2")
    assert first.status_code == second.status_code == 204
    assert server.accepts == 1


async def test_interim_answers_are_skipped_and_leave_nothing_in_the_final_one() -> None:
    answer = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"
    )

    async def script(peer: Peer) -> None:
        await answer_each(peer, answer)

    async with Server(script) as server, lean_client() as client:
        response = await client.post(server.url + "/", content=b"x")
        again = await client.post(server.url + "/", content=b"y")
    assert response.status_code == again.status_code == 201
    assert response.text == "done"
    assert "link" not in response.headers
    assert server.accepts == 1


# -- keep-alive --------------------------------------------------------------------------------


async def test_sequential_requests_share_one_connection() -> None:
    async with Server(answer_each) as server, lean_client() as client:
        for _ in range(3):
            assert (await client.get(server.url + "/")).text == "ok"
    assert server.accepts == 1
    assert len(server.received) == 3


async def test_connection_close_from_the_server_retires_the_connection() -> None:
    async def script(peer: Peer) -> None:
        # Says close but keeps the socket open: only the header can tell the client.
        await answer_each(
            peer, b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
        )

    async with Server(script) as server, lean_client() as client:
        await client.get(server.url + "/")
        await client.get(server.url + "/")
        await server.peers[0].client_closes()
    assert server.accepts == 2


async def test_a_connection_the_server_closed_while_idle_is_replaced_without_error() -> None:
    async def script(peer: Peer) -> None:
        await peer.read_request()
        peer.send(OK)
        await peer.close()

    async with Server(script) as server, lean_client() as client:
        await client.get(server.url + "/")
        # Let the client's loop read the close, as it would on a connection idle for a while.
        await asyncio.sleep(0.01)
        response = await client.get(server.url + "/")
    assert response.text == "ok"
    assert server.accepts == 2


async def test_a_close_the_loop_has_not_read_yet_is_caught_before_writing() -> None:
    # The server's FIN is in the client's socket, but the client's loop has not run since: only
    # the reuse check (a poll of the socket) can see it. Writing the request there would lose it.
    async with Server(answer_each) as server, lean_client() as client:
        await client.get(server.url + "/")
        # Shut down through a duplicate descriptor: at once, with no turn of the loop (and
        # uvloop's transport sockets refuse shutdown()).
        server_end = server.peers[0].writer.get_extra_info("socket")
        with socket.fromfd(server_end.fileno(), socket.AF_INET, socket.SOCK_STREAM) as duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)
        response = await client.get(server.url + "/")
    assert response.text == "ok"
    assert server.accepts == 2


async def test_an_idle_connection_past_keepalive_expiry_is_closed_not_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return now[0]

    monkeypatch.setattr(transport_module, "time", Clock)
    async with Server(answer_each) as server, lean_client() as client:
        await client.get(server.url + "/")
        now[0] += KEEPALIVE_EXPIRY - 0.01
        await client.get(server.url + "/")
        assert server.accepts == 1
        now[0] += KEEPALIVE_EXPIRY
        await client.get(server.url + "/")
        assert server.accepts == 2
        await server.peers[0].client_closes()


async def test_stray_bytes_on_an_idle_connection_retire_it() -> None:
    async def script(peer: Peer) -> None:
        await peer.read_request()
        peer.send(OK)
        await asyncio.sleep(0.01)
        peer.send(b"HTTP/1.1 200 OK\r\n")  # out of step: nobody asked
        # The client must send nothing more here.
        await peer.until_client_closes()

    async with Server(script) as server, lean_client() as client:
        await client.get(server.url + "/")
        await asyncio.sleep(0.02)
        response = await client.get(server.url + "/")
    assert response.text == "ok"
    assert server.accepts == 2


async def test_a_second_answer_in_the_same_bytes_retires_the_connection() -> None:
    first = b"HTTP/1.1 200 OK\r\nX-Which: first\r\nContent-Length: 5\r\n\r\nfirst"
    second = b"HTTP/1.1 500 Stray\r\nX-Which: stray\r\nContent-Length: 5\r\n\r\nstray"

    async def script(peer: Peer) -> None:
        if peer is not server.peers[0]:
            await answer_each(peer)
            return
        await peer.read_request()
        peer.send(first + second)  # two answers to one request: the server is out of step
        await peer.until_client_closes()

    async with Server(script) as server, lean_client() as client:
        response = await client.get(server.url + "/")
        after = await client.get(server.url + "/")
    assert response.headers.get_list("x-which") == ["first"]
    assert response.text == "first"
    assert after.text == "ok"
    assert server.accepts == 2


async def test_idle_connections_beyond_max_keepalive_are_closed() -> None:
    gate = asyncio.Event()
    script = first_answer_held_until(gate)

    transport = LeanTransport(max_keepalive_connections=1)
    async with Server(script) as server, lean_client(transport) as client:
        requests = [asyncio.create_task(client.get(server.url + "/")) for _ in range(2)]
        await server.until(lambda: len(server.received) == 2)
        gate.set()
        await asyncio.gather(*requests)
        # One connection is closed as it comes back, the other kept and reused.
        await server.until(
            lambda: [peer.closed_by_client for peer in server.peers].count(True) == 1
        )
        await client.get(server.url + "/")
        assert server.accepts == 2
        assert [peer.closed_by_client for peer in server.peers].count(True) == 1


async def test_a_full_pool_closes_an_idle_connection_to_another_origin() -> None:
    transport = LeanTransport(max_connections=1)
    async with (
        Server(answer_each) as one,
        Server(answer_each) as other,
        lean_client(transport) as client,
    ):
        await client.get(one.url + "/")
        response = await client.get(other.url + "/")
        assert response.text == "ok"
        await one.peers[0].client_closes()


# -- connecting: nothing written, so ConnectError and ConnectTimeout -----------------------------


async def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nobody listens on the port now.
    async with lean_client() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/")


async def test_a_connect_that_never_completes_is_a_connect_timeout_and_frees_its_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    real_connect = loop.create_connection

    async def never(*args: Any, **kwargs: Any) -> Any:
        await asyncio.Event().wait()

    transport = LeanTransport(max_connections=1)
    timeout = httpx.Timeout(PATIENCE, connect=0.05, pool=0.2)
    async with Server(answer_each) as server, lean_client(transport, timeout) as client:
        monkeypatch.setattr(loop, "create_connection", never)
        with pytest.raises(httpx.ConnectTimeout):
            await client.get(server.url + "/")
        monkeypatch.setattr(loop, "create_connection", real_connect)
        # The one slot was given back: no PoolTimeout.
        assert (await client.get(server.url + "/")).text == "ok"


async def test_a_connection_closed_before_the_request_is_written_fails_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A server that accepts and closes at once (draining, overloaded): if the client's loop reads
    # the close before the request is written, the request would go nowhere and its answer never
    # come. That must fail at once, not after the read timeout (120 s for a create, never without
    # one), and as a ConnectError: nothing was written, so a create may be sent again.
    loop = asyncio.get_running_loop()
    real_connect = loop.create_connection

    async def connect_then_let_the_close_arrive(*args: Any, **kwargs: Any) -> Any:
        made = await real_connect(*args, **kwargs)
        async with asyncio.timeout(PATIENCE):
            while made[1].usable:  # noqa: ASYNC110 (the protocol has no event to wait on)
                await asyncio.sleep(0)
        return made

    async def script(peer: Peer) -> None:
        if peer is server.peers[0]:
            await peer.close()
        else:
            await answer_each(peer)

    transport = LeanTransport(max_connections=1)
    async with Server(script) as server, lean_client(transport) as client:
        monkeypatch.setattr(loop, "create_connection", connect_then_let_the_close_arrive)
        with pytest.raises(httpx.ConnectError):
            await client.get(server.url + "/")
        monkeypatch.setattr(loop, "create_connection", real_connect)
        assert (await client.get(server.url + "/")).text == "ok"
    assert len(server.received) == 1


async def test_a_failed_connect_lets_the_next_request_in_line_connect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The slot a failed connect held is free: a request queued behind it must not wait for its
    # pool timeout.
    loop = asyncio.get_running_loop()
    real_connect = loop.create_connection
    refused = asyncio.Event()

    async def refuse_the_first(*args: Any, **kwargs: Any) -> Any:
        if not refused.is_set():
            await asyncio.sleep(0.05)
            refused.set()
            raise ConnectionRefusedError("refused")
        return await real_connect(*args, **kwargs)

    transport = LeanTransport(max_connections=1)
    async with Server(answer_each) as server, lean_client(transport, POOL_1S) as client:
        monkeypatch.setattr(loop, "create_connection", refuse_the_first)
        first = asyncio.create_task(client.get(server.url + "/first"))
        await asyncio.sleep(0.01)
        queued = asyncio.create_task(client.get(server.url + "/queued"))
        with pytest.raises(httpx.ConnectError):
            await first
        async with asyncio.timeout(0.5):
            assert (await queued).text == "ok"


async def test_a_cancelled_connect_lets_the_next_request_in_line_connect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = asyncio.get_running_loop()
    real_connect = loop.create_connection
    hanging = asyncio.Event()

    async def hang_the_first(*args: Any, **kwargs: Any) -> Any:
        if not hanging.is_set():
            hanging.set()
            await asyncio.Event().wait()
        return await real_connect(*args, **kwargs)

    transport = LeanTransport(max_connections=1)
    async with Server(answer_each) as server, lean_client(transport, POOL_1S) as client:
        monkeypatch.setattr(loop, "create_connection", hang_the_first)
        first = asyncio.create_task(client.get(server.url + "/first"))
        await hanging.wait()
        queued = asyncio.create_task(client.get(server.url + "/queued"))
        await asyncio.sleep(0.01)
        first.cancel()
        async with asyncio.timeout(0.5):
            assert (await queued).text == "ok"


# -- failures once the request may have been written -------------------------------------------


def sends_then_closes(data: bytes, name: str) -> Script:
    """A server that reads the request, sends `data` (part of an answer, or nothing) and closes."""

    async def script(peer: Peer) -> None:
        await peer.read_request()
        if data:
            peer.send(data)
        await peer.close()

    script.__name__ = name
    return script


close_without_answer = sends_then_closes(b"", "close_without_answer")
half_the_body_then_close = sends_then_closes(
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf!", "half_the_body_then_close"
)
half_a_status_line_then_close = sends_then_closes(b"HTTP/1.1 20", "half_a_status_line_then_close")
half_a_chunked_body_then_close = sends_then_closes(
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    "half_a_chunked_body_then_close",
)


async def garbage(peer: Peer) -> None:
    await peer.read_request()
    peer.send(b"SMTP ready\r\n\r\n")
    await peer.until_client_closes()


async def reset(peer: Peer) -> None:
    await peer.read_request()
    # Lingering 0 seconds: the close sends RST instead of FIN.
    linger = struct.pack("ii", 1, 0)
    peer.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    peer.writer.transport.abort()


async def switch_protocols(peer: Peer) -> None:
    await peer.read_request()
    peer.send(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n")
    await peer.until_client_closes(expect_nothing=False)


MISBEHAVIOURS = pytest.mark.parametrize(
    ("misbehaviour", "expected"),
    [
        (close_without_answer, httpx.RemoteProtocolError),
        (half_the_body_then_close, httpx.RemoteProtocolError),
        (half_a_status_line_then_close, httpx.RemoteProtocolError),
        (half_a_chunked_body_then_close, httpx.RemoteProtocolError),
        (garbage, httpx.RemoteProtocolError),
        (switch_protocols, httpx.RemoteProtocolError),
        (silent, httpx.ReadTimeout),
        (reset, httpx.ReadError),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)


@MISBEHAVIOURS
async def test_a_failure_after_the_request_was_written_keeps_httpx_meaning_and_the_pool(
    misbehaviour: Script, expected: type[httpx.TransportError], caplog: pytest.LogCaptureFixture
) -> None:
    async def script(peer: Peer) -> None:
        await (misbehaviour if peer is server.peers[0] else answer_each)(peer)

    transport = LeanTransport(max_connections=1)
    timeout = httpx.Timeout(PATIENCE, read=0.1)
    async with Server(script) as server, lean_client(transport, timeout) as client:
        with pytest.raises(httpx.TransportError) as caught:
            await client.post(server.url + "/v2/create-phone-call", json={"a": 1})
        # Exactly this class: a ConnectError here would make the client send a create twice.
        assert type(caught.value) is expected
        # The failed connection gave its one slot back and is not reused.
        assert (await client.get(server.url + "/")).text == "ok"
    assert server.accepts == 2
    # A misbehaving server is the caller's exception, not an error logged by the event loop.
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_a_close_delimited_body_is_read_to_the_close_and_not_reused() -> None:
    async def script(peer: Peer) -> None:
        if peer is not server.peers[0]:
            await answer_each(peer)
            return
        await peer.read_request()
        peer.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nno length")
        await asyncio.sleep(0.01)
        peer.send(b", read to the end")
        await peer.close()

    async with Server(script) as server, lean_client() as client:
        response = await client.get(server.url + "/")
        assert response.text == "no length, read to the end"
        assert (await client.get(server.url + "/")).text == "ok"
    assert server.accepts == 2


# -- the pool's limits ---------------------------------------------------------------------------


async def test_a_request_over_max_connections_waits_then_reuses_the_freed_connection() -> None:
    gate = asyncio.Event()
    script = first_answer_held_until(gate)

    transport = LeanTransport(max_connections=1)
    async with Server(script) as server, lean_client(transport) as client:
        first = asyncio.create_task(client.get(server.url + "/1"))
        await server.until(lambda: len(server.received) == 1)
        second = asyncio.create_task(client.get(server.url + "/2"))
        # Time enough for a second connection, were the transport to open one.
        await asyncio.sleep(0.05)
        assert server.accepts == 1
        assert len(server.received) == 1
        gate.set()
        await asyncio.gather(first, second)
    assert server.accepts == 1
    assert [request.line for request in server.received] == [
        b"GET /1 HTTP/1.1",
        b"GET /2 HTTP/1.1",
    ]


async def test_pool_timeout_when_the_only_connection_stays_busy_and_nothing_is_sent() -> None:
    gate = asyncio.Event()
    script = first_answer_held_until(gate)

    transport = LeanTransport(max_connections=1)
    timeout = httpx.Timeout(PATIENCE, pool=0.05)
    async with Server(script) as server, lean_client(transport, timeout) as client:
        busy = asyncio.create_task(client.get(server.url + "/busy"))
        await server.until(lambda: len(server.received) == 1)
        with pytest.raises(httpx.PoolTimeout):
            await client.get(server.url + "/waits")
        gate.set()
        await busy
        assert (await client.get(server.url + "/later")).text == "ok"
    assert [request.line for request in server.received] == [
        b"GET /busy HTTP/1.1",
        b"GET /later HTTP/1.1",
    ]


async def test_cancelling_mid_exchange_closes_the_connection_and_frees_its_slot() -> None:
    async def script(peer: Peer) -> None:
        await (silent if peer is server.peers[0] else answer_each)(peer)

    transport = LeanTransport(max_connections=1)
    timeout = httpx.Timeout(PATIENCE, pool=0.2)
    async with Server(script) as server, lean_client(transport, timeout) as client:
        task = asyncio.create_task(client.get(server.url + "/"))
        await server.until(lambda: len(server.received) == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # Its answer could still arrive: the connection must not be reused, and its slot is free.
        await server.peers[0].client_closes()
        assert (await client.get(server.url + "/")).text == "ok"
    assert server.accepts == 2


async def test_a_request_cancelled_while_queued_does_not_take_the_freed_connection() -> None:
    gate = asyncio.Event()
    script = first_answer_held_until(gate)

    transport = LeanTransport(max_connections=1)
    timeout = httpx.Timeout(PATIENCE, pool=0.5)
    async with Server(script) as server, lean_client(transport, timeout) as client:
        busy = asyncio.create_task(client.get(server.url + "/busy"))
        await server.until(lambda: len(server.received) == 1)
        queued = [asyncio.create_task(client.get(server.url + f"/{n}")) for n in ("b", "c")]
        await asyncio.sleep(0.01)
        queued[0].cancel()
        gate.set()
        await busy
        assert (await queued[1]).text == "ok"
        with pytest.raises(asyncio.CancelledError):
            await queued[0]
    assert [request.line for request in server.received] == [
        b"GET /busy HTTP/1.1",
        b"GET /c HTTP/1.1",
    ]


async def test_a_request_cancelled_as_the_freed_connection_reaches_it_sends_nothing() -> None:
    # The pool hands the freed connection to the first queued request, which is cancelled before
    # it runs: the cancellation must win (its caller was told the request stopped, so a create
    # must not go out after all), and the connection must pass to the next in line.
    gate = asyncio.Event()
    script = first_answer_held_until(gate)

    transport = LeanTransport(max_connections=1)
    timeout = httpx.Timeout(PATIENCE, pool=0.5)
    async with Server(script) as server, lean_client(transport, timeout) as client:

        async def busy_then_cancel_first() -> None:
            await client.get(server.url + "/busy")
            # Same step as the connection was given back: `first` has been woken, not run.
            first.cancel()

        busy = asyncio.create_task(busy_then_cancel_first())
        await server.until(lambda: len(server.received) == 1)
        first = asyncio.create_task(client.get(server.url + "/first"))
        await asyncio.sleep(0.01)
        second = asyncio.create_task(client.get(server.url + "/second"))
        await asyncio.sleep(0.01)
        gate.set()
        await busy
        with pytest.raises(asyncio.CancelledError):
            await first
        assert (await second).text == "ok"
    assert [request.line for request in server.received] == [
        b"GET /busy HTTP/1.1",
        b"GET /second HTTP/1.1",
    ]


# -- TLS ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate_authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(certificate_authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate_authority.issue_cert("127.0.0.1").configure_cert(context)
    return context


async def test_https_with_a_trusted_authority_succeeds_and_keeps_alive(
    certificate_authority: trustme.CA, server_tls: ssl.SSLContext
) -> None:
    trusting = ssl.create_default_context()
    certificate_authority.configure_trust(trusting)
    transport = LeanTransport(verify=trusting)
    async with Server(answer_each, tls=server_tls) as server, lean_client(transport) as client:
        first = await client.post(server.url + "/", json={"a": 1})
        second = await client.get(server.url + "/")
    assert first.text == second.text == "ok"
    assert server.received[0].body == b'{"a":1}'
    assert server.accepts == 1


async def test_a_tls_handshake_that_never_completes_is_a_connect_timeout() -> None:
    # A server that takes the connection and never answers the client's hello: the request was
    # not written, so the client may send it again.
    async def script(peer: Peer) -> None:
        await peer.until_client_closes(expect_nothing=False)  # but its hello

    timeout = httpx.Timeout(PATIENCE, connect=0.1)
    async with Server(script) as server, lean_client(timeout=timeout) as client:
        with pytest.raises(httpx.ConnectTimeout):
            await client.get(server.url.replace("http://", "https://") + "/")
        # The half-made connection is closed, not left open.
        await server.peers[0].client_closes()


async def test_https_with_an_untrusted_certificate_is_a_connect_error(
    server_tls: ssl.SSLContext,
) -> None:
    async with Server(answer_each, tls=server_tls) as server, lean_client() as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(server.url + "/")


# -- refused before anything is sent ------------------------------------------------------------


async def test_a_header_with_a_line_break_is_refused_before_anything_is_written() -> None:
    async with Server(answer_each) as server, lean_client() as client:
        await client.get(server.url + "/")
        with pytest.raises(httpx.LocalProtocolError):
            await client.get(server.url + "/", headers={"X-Bad": "a\r\nInjected: yes"})
        assert (await client.get(server.url + "/")).text == "ok"
    assert len(server.received) == 2
    assert all(request.header(b"injected") == [] for request in server.received)
    assert server.accepts == 1


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "ws://127.0.0.1/", "unix:///tmp/x"])
async def test_schemes_other_than_http_are_unsupported(url: str) -> None:
    transport = LeanTransport()
    with pytest.raises(httpx.UnsupportedProtocol):
        await transport.handle_async_request(httpx.Request("GET", url))


async def test_head_is_unsupported() -> None:
    # httptools cannot be told a HEAD answer has no body: refusing beats hanging on one.
    async with Server(answer_each) as server, lean_client() as client:
        with pytest.raises(httpx.UnsupportedProtocol):
            await client.head(server.url + "/")
    assert server.accepts == 0


# -- closing --------------------------------------------------------------------------------------


async def test_aclose_closes_idle_connections() -> None:
    async with Server(answer_each) as server:
        async with lean_client() as client:
            await client.get(server.url + "/")
        await server.peers[0].client_closes()


async def test_a_request_in_flight_at_aclose_completes_and_its_connection_is_closed() -> None:
    gate = asyncio.Event()
    script = first_answer_held_until(gate)

    async with Server(script) as server:
        transport = LeanTransport()
        async with lean_client(transport) as client:
            request = asyncio.create_task(client.get(server.url + "/"))
            await server.until(lambda: len(server.received) == 1)
            await transport.aclose()
            gate.set()
            assert (await request).text == "ok"
            await server.peers[0].client_closes()


async def test_requests_waiting_for_a_connection_at_aclose_fail_without_connecting() -> None:
    gate = asyncio.Event()
    script = first_answer_held_until(gate)

    transport = LeanTransport(max_connections=1)
    async with Server(script) as server, lean_client(transport) as client:
        busy = asyncio.create_task(client.get(server.url + "/busy"))
        await server.until(lambda: len(server.received) == 1)
        queued = asyncio.create_task(client.get(server.url + "/queued"))
        await asyncio.sleep(0.01)
        await transport.aclose()
        with pytest.raises(httpx.ConnectError, match="closed"):
            await queued
        gate.set()
        assert (await busy).text == "ok"
        with pytest.raises(httpx.ConnectError, match="closed"):
            await client.get(server.url + "/after")
    assert server.accepts == 1


# -- descriptors --------------------------------------------------------------------------------


@contextlib.contextmanager
def descriptors_above(number: int) -> Iterator[None]:
    """Hold enough descriptors open that the next socket gets one above `number`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= number + 64:
        pytest.skip(f"the descriptor limit ({hard}) is too low to go above {number}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, number + 64), hard))
    held = [os.open(os.devnull, os.O_RDONLY)]
    try:
        # A new descriptor is the lowest free one: once one is above `number`, all below are held.
        while held[-1] <= number:
            held.append(os.dup(held[0]))
        yield
    finally:
        for descriptor in held:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_reuse_works_on_descriptors_above_select_limit() -> None:
    # select() cannot watch a descriptor above 1023; a busy process has such descriptors.
    async with Server(answer_each) as server, lean_client() as client:
        with descriptors_above(1100):
            await client.get(server.url + "/")
            assert (await client.get(server.url + "/")).text == "ok"
    assert server.accepts == 1


# -- on uvloop ----------------------------------------------------------------------------------

# Runs go on uvloop (campaigner.eventloop), whose transports are its own: sockets, TLS, how a close
# arrives. So every test above runs there too (the scheme checks aside: they reach no loop).
ON_UVLOOP = [
    value
    for name, value in list(globals().items())
    if name.startswith("test_") and inspect.iscoroutinefunction(value)
    if not hasattr(value, "pytestmark")
]


def run_on_uvloop(scenario: Coroutine[Any, Any, None]) -> None:
    uvloop = pytest.importorskip("uvloop")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario)


@pytest.mark.parametrize("test", ON_UVLOOP, ids=lambda test: test.__name__.removeprefix("test_"))
def test_on_uvloop(
    test: Callable[..., Coroutine[Any, Any, None]], request: pytest.FixtureRequest
) -> None:
    fixtures = {name: request.getfixturevalue(name) for name in inspect.signature(test).parameters}
    run_on_uvloop(test(**fixtures))


@MISBEHAVIOURS
def test_failure_meanings_on_uvloop(
    misbehaviour: Script, expected: type[httpx.TransportError], caplog: pytest.LogCaptureFixture
) -> None:
    run_on_uvloop(
        test_a_failure_after_the_request_was_written_keeps_httpx_meaning_and_the_pool(
            misbehaviour, expected, caplog
        )
    )
