"""The client on httpx's own transport against real sockets: when a create may be sent again.

`RetellClient` resends a create only after `httpx.ConnectError`, `ConnectTimeout` or
`PoolTimeout`, which httpx raises only while nothing of the request was written; after any other
failure the create may exist, so it raises `AmbiguousCreate` and is never resent. These tests hold
httpx to those meanings on real connections: each server on 127.0.0.1 fails in one way, and counts
the requests it read. They run on asyncio's loop and on uvloop (which dialing runs use), whose
sockets report failures their own way. The environment's proxy settings, which httpx's transport
honours, are tested here too.

Timeouts are short where a timeout is what is tested, and a second or two elsewhere, so that a
broken rule fails a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from campaigner.retell import AmbiguousCreate, RequestRetries, RetellClient, TransportError
from campaigner.retell import client as client_module
from tests.retell.test_client import API_KEY, CALL

CALL_ANSWER = json.dumps(CALL).encode()
CREATED = (
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
    + b"Content-Length: %d\r\n\r\n" % len(CALL_ANSWER)
    + CALL_ANSWER
)
# Long enough never to fire on a working client, short enough to fail a broken one quickly.
PATIENCE = 2.0
SHORT = 0.2
# How long a create waits for a connection from the pool: on a busy machine, time enough for a
# freed connection to reach the next create in line.
POOL_WAIT = 1.0
RETRIES = 2
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")

LOOPS = pytest.mark.parametrize("loop", ["asyncio", "uvloop"])


@dataclass
class Peer:
    """The server's end of one accepted connection."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    received: list[bytes]

    async def read_request(self) -> bytes | None:
        """The next request's head and body, or None when the client closed first."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        request = head + await self.reader.readexactly(length)
        self.received.append(request)
        return request

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


Script = Callable[[Peer], Awaitable[None]]


@dataclass
class Server:
    """What a scripted server on 127.0.0.1 was sent: every request it read, whole."""

    port: int
    received: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def serving(script: Script) -> AsyncIterator[Server]:
    """A server on 127.0.0.1 whose every accepted connection runs `script`."""
    handlers: set[asyncio.Task[Any]] = set()
    peers: list[Peer] = []
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        peers.append(peer := Peer(reader, writer, received))
        # The client going away mid-script is what some tests do on purpose.
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await script(peer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield Server(server.sockets[0].getsockname()[1], received)
    finally:
        server.close()
        for peer in peers:
            peer.writer.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


def run(loop: str, scenario: Coroutine[Any, Any, None]) -> None:
    """Run `scenario` on a fresh event loop of the kind named."""
    if loop == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(scenario)


@pytest.fixture(autouse=True)
def short_create_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Creates wait `SHORT` for a connect and `POOL_WAIT` for a connection from the pool, not
    minutes; and no proxy of the machine's own environment comes between the client and these
    servers."""
    monkeypatch.setattr(
        client_module,
        "CREATE_CALL_TIMEOUT",
        httpx.Timeout(PATIENCE, connect=SHORT, pool=POOL_WAIT),
    )
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def make_client(
    base_url: str, sleeps: list[float], *, on_sleep: Callable[[], None] | None = None, **kwargs: Any
) -> RetellClient:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if on_sleep is not None:
            on_sleep()

    return RetellClient(
        api_key=API_KEY,
        base_url=base_url,
        request_retries=RequestRetries(max_retries=RETRIES),
        sleep=sleep,
        timeout=httpx.Timeout(PATIENCE),
        **kwargs,
    )


async def create(client: RetellClient, key: str = "k1") -> str:
    call = await client.create_phone_call(
        from_number="+14155550100", to_number="+12125550101", idempotency_key=key
    )
    return call.call_id


def body_of(request: bytes) -> bytes:
    return request.split(b"\r\n\r\n", 1)[1]


def free_port() -> int:
    """A port nobody listens on once this returns."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def answer_each(peer: Peer) -> None:
    """A well-behaved keep-alive server: every request gets a created call."""
    while await peer.read_request() is not None:
        peer.writer.write(CREATED)


# -- nothing was sent: the create is sent again -------------------------------------------------


@contextlib.asynccontextmanager
async def refusing() -> AsyncIterator[str]:
    """A URL nobody listens on."""
    yield f"http://127.0.0.1:{free_port()}"


@contextlib.asynccontextmanager
async def never_shaking_hands() -> AsyncIterator[str]:
    """An HTTPS URL whose server takes the connection and never answers the client's hello."""

    async def hello_and_nothing(peer: Peer) -> None:
        await peer.reader.read()

    async with serving(hello_and_nothing) as server:
        yield server.url.replace("http://", "https://")


@LOOPS
@pytest.mark.parametrize(
    ("endpoint", "failure"),
    [(refusing, "ConnectError"), (never_shaking_hands, "ConnectTimeout")],
    ids=["refused", "tls_handshake_never_completes"],
)
def test_a_create_never_written_is_sent_again(
    loop: str, endpoint: Callable[[], contextlib.AbstractAsyncContextManager[str]], failure: str
) -> None:
    async def scenario() -> None:
        sleeps: list[float] = []
        async with endpoint() as url, make_client(url, sleeps) as client:
            with pytest.raises(TransportError, match=failure) as caught:
                await create(client)
        assert not isinstance(caught.value, AmbiguousCreate)
        assert len(sleeps) == RETRIES

    run(loop, scenario())


@LOOPS
def test_a_create_that_waited_too_long_for_a_connection_is_sent_again_once(loop: str) -> None:
    # One connection, busy with a create whose answer is held until the client backs off: the
    # second create meets PoolTimeout, waits, and goes out once the connection is free.
    async def scenario() -> None:
        held = asyncio.Event()

        async def first_answer_held(peer: Peer) -> None:
            await peer.read_request()
            await held.wait()
            peer.writer.write(CREATED)
            await answer_each(peer)

        sleeps: list[float] = []
        async with serving(first_answer_held) as server:
            client = make_client(server.url, sleeps, on_sleep=held.set, max_connections=1)
            async with client:
                busy = asyncio.create_task(create(client, "busy"))
                async with asyncio.timeout(PATIENCE):
                    while not server.received:  # noqa: ASYNC110 (the server has no event)
                        await asyncio.sleep(0.01)
                assert await create(client, "queued") == "call_1"
                assert await busy == "call_1"
        keys = [json.loads(body_of(request))["idempotency_key"] for request in server.received]
        assert keys == ["busy", "queued"]
        assert len(sleeps) == 1

    run(loop, scenario())


# -- the request was written: the create may exist, and is not sent again ----------------------


def sends_then_closes(data: bytes, name: str) -> Script:
    """A server that reads the request, sends `data` (part of an answer, or nothing), closes."""

    async def script(peer: Peer) -> None:
        await peer.read_request()
        if data:
            peer.writer.write(data)
        await peer.close()

    script.__name__ = name
    return script


async def garbage(peer: Peer) -> None:
    await peer.read_request()
    peer.writer.write(b"SMTP ready\r\n\r\n")
    await peer.reader.read()


async def silent(peer: Peer) -> None:
    await peer.read_request()
    await peer.reader.read()


async def reset(peer: Peer) -> None:
    await peer.read_request()
    # Lingering 0 seconds: the close sends RST instead of FIN.
    linger = struct.pack("ii", 1, 0)
    peer.writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    peer.writer.transport.abort()


MISBEHAVIOURS = [
    (sends_then_closes(b"", "close_without_answer"), httpx.RemoteProtocolError),
    (
        sends_then_closes(
            b"HTTP/1.1 201 Created\r\nContent-Length: 10\r\n\r\nhalf!", "half_the_body_then_close"
        ),
        httpx.RemoteProtocolError,
    ),
    (sends_then_closes(b"HTTP/1.1 20", "half_a_status_line_then_close"), httpx.RemoteProtocolError),
    (garbage, httpx.RemoteProtocolError),
    (silent, httpx.ReadTimeout),
    (reset, httpx.ReadError),
]


@LOOPS
@pytest.mark.parametrize(
    ("misbehaviour", "expected"), MISBEHAVIOURS, ids=[m.__name__ for m, _ in MISBEHAVIOURS]
)
def test_a_failure_after_the_request_was_written_makes_the_create_ambiguous(
    loop: str,
    misbehaviour: Script,
    expected: type[httpx.TransportError],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(client_module, "CREATE_CALL_TIMEOUT", httpx.Timeout(PATIENCE, read=SHORT))

    async def scenario() -> None:
        sleeps: list[float] = []
        async with serving(misbehaviour) as server, make_client(server.url, sleeps) as client:
            with pytest.raises(AmbiguousCreate, match=rf"\({expected.__name__}\)") as caught:
                await create(client, "k7")
        assert caught.value.idempotency_key == "k7"
        assert len(server.received) == 1
        assert sleeps == []

    run(loop, scenario())


# -- proxies from the environment ---------------------------------------------------------------


def test_requests_go_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario() -> None:
        async with serving(answer_each) as proxy:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            async with make_client("http://retell.test", []) as client:
                assert await create(client) == "call_1"
        (request,) = proxy.received
        assert request.startswith(b"POST http://retell.test/v2/create-phone-call HTTP/1.1\r\n")

    run("asyncio", scenario())


def test_no_proxy_sends_requests_straight_to_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with serving(answer_each) as proxy, serving(answer_each) as server:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)
            monkeypatch.setenv("NO_PROXY", "127.0.0.1")
            async with make_client(server.url, []) as client:
                assert await create(client) == "call_1"
        assert proxy.received == []
        assert len(server.received) == 1

    run("asyncio", scenario())
