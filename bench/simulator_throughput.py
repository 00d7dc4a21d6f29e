"""Throughput and capacity of the Retell simulator, measured over real HTTP on loopback.

Two runs, each against a fresh simulator served by uvicorn in its own process:

1. Sustained request rate: a fixed number of requests, mixed evenly over create-phone-call,
   get-call, list-calls (metadata filter) and get-concurrency, sent over keep-alive connections.
2. Capacity: a workspace with a concurrency limit of 6,000 and long calls; 6,000 creates as fast
   as the server takes them, then the peak number of simultaneous virtual calls and the scheduler's
   lag.

The load generator is a minimal keep-alive HTTP/1.1 client on asyncio streams: on this 2-core
machine httpx's async connection pool spends more CPU per request than the server does, so it
would measure itself rather than the simulator. Every loop is bounded in count and time.

    .venv/bin/python bench/simulator_throughput.py [--requests 20000] [--calls 6000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import time
from typing import Any

from retell_sim import DEMO_FROM_NUMBERS, OutcomeModel, SimulatorConfig

API_KEY = "key_campaigner_bench"
HOST = "127.0.0.1"


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        payload = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {API_KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        self._writer.write(head.encode() + payload)
        await self._writer.drain()
        raw_head = await self._reader.readuntil(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await self._reader.readexactly(length) if length else b""

    def close(self) -> None:
        self._writer.close()


def _serve(config: SimulatorConfig, port: int) -> None:
    import uvicorn

    from retell_sim import create_app

    uvicorn.run(create_app(config), host=HOST, port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """The simulator in a child process."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.port = _free_port()
        self._process = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(config, self.port), daemon=True
        )

    async def __aenter__(self) -> Server:
        self._process.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                connection = await Connection.open(self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            connection.close()
            return self
        raise RuntimeError("the simulator did not start within 30 s")

    async def __aexit__(self, *exc: object) -> None:
        self._process.terminate()
        self._process.join(timeout=10)

    async def stats(self) -> dict[str, Any]:
        connection = await Connection.open(self.port)
        try:
            _, body = await connection.request("GET", "/_sim/stats")
        finally:
            connection.close()
        result: dict[str, Any] = json.loads(body)
        return result


def _config(*, limit: int, seed: int) -> SimulatorConfig:
    # Every call is answered and talks for ~30 minutes, so created calls pile up as live calls.
    long_calls = OutcomeModel.everyone_answers(conversation_median_s=1800, conversation_sigma=0.1)
    return SimulatorConfig(
        api_key=API_KEY,
        speed=1,
        seed=seed,
        concurrency_limit=limit,
        cps=1_000_000,
        outcomes=long_calls,
    )


async def _mixed_load(
    port: int, total: int, connections: int, time_cap_s: float
) -> tuple[int, float, int]:
    counter = iter(range(total))
    created: list[str] = []
    errors = 0
    deadline = time.monotonic() + time_cap_s

    async def worker() -> int:
        nonlocal errors
        done = 0
        connection = await Connection.open(port)
        try:
            for index in counter:
                if time.monotonic() > deadline:
                    break
                kind = index % 4
                if kind == 0:
                    body = {
                        "from_number": DEMO_FROM_NUMBERS[0],
                        "to_number": f"+1415{index:07d}",
                        "metadata": {"campaign": "bench", "index": index},
                        "retell_llm_dynamic_variables": {"first_name": "Sam"},
                    }
                    status, raw = await connection.request("POST", "/v2/create-phone-call", body)
                    if status == 201:
                        created.append(json.loads(raw)["call_id"])
                elif kind == 1 and created:
                    status, _ = await connection.request("GET", f"/v2/get-call/{created[-1]}")
                elif kind == 2:
                    query = {
                        "filter_criteria": {
                            "metadata": [
                                {"key": "index", "type": "number", "op": "eq", "value": index - 2}
                            ]
                        }
                    }
                    status, _ = await connection.request("POST", "/v3/list-calls", query)
                else:
                    status, _ = await connection.request("GET", "/get-concurrency")
                errors += status >= 300
                done += 1
        finally:
            connection.close()
        return done

    started = time.perf_counter()
    counts = await asyncio.gather(*(worker() for _ in range(connections)))
    return sum(counts), time.perf_counter() - started, errors


async def _burst_creates(
    port: int, calls: int, connections: int, time_cap_s: float
) -> tuple[int, float]:
    counter = iter(range(calls))
    deadline = time.monotonic() + time_cap_s

    async def worker() -> int:
        ok = 0
        connection = await Connection.open(port)
        try:
            for index in counter:
                if time.monotonic() > deadline:
                    break
                body = {
                    "from_number": DEMO_FROM_NUMBERS[index % 2],
                    "to_number": f"+1628{index:07d}",
                }
                status, _ = await connection.request("POST", "/v2/create-phone-call", body)
                ok += status == 201
        finally:
            connection.close()
        return ok

    started = time.perf_counter()
    counts = await asyncio.gather(*(worker() for _ in range(connections)))
    return sum(counts), time.perf_counter() - started


def _print_lag(stats: dict[str, Any]) -> None:
    worst, mean = stats["scheduler_lag_ms_max"], stats["scheduler_lag_ms_mean"]
    print(f"  scheduler lag       max {worst:.1f} ms, mean {mean:.2f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000, help="requests in the mixed run")
    parser.add_argument("--calls", type=int, default=6_000, help="creates in the capacity run")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--time-cap", type=float, default=120.0, help="seconds per run, at most")
    args = parser.parse_args()

    async with Server(_config(limit=100_000, seed=1)) as server:
        done, elapsed, errors = await _mixed_load(
            server.port, args.requests, args.connections, args.time_cap
        )
        stats = await server.stats()
    print("mixed load (create / get-call / list-calls / get-concurrency, 1:1:1:1)")
    print(f"  requests            {done} in {elapsed:.2f} s, {errors} non-2xx")
    print(f"  sustained rate      {done / elapsed:,.0f} requests/s")
    _print_lag(stats)

    async with Server(_config(limit=args.calls, seed=2)) as server:
        created, elapsed = await _burst_creates(
            server.port, args.calls, args.connections, args.time_cap
        )
        # Let the last calls finish ringing so every one of them is live at once.
        await asyncio.sleep(13)
        stats = await server.stats()
    print(f"capacity (concurrency limit {args.calls}, ~30 min calls)")
    print(f"  creates accepted    {created} in {elapsed:.2f} s ({created / elapsed:,.0f}/s)")
    print(f"  peak concurrency    {stats['peak_concurrency']} (now {stats['current_concurrency']})")
    print(f"  calls ongoing       {stats['calls_by_status'].get('ongoing', 0)}")
    _print_lag(stats)
    print(f"  pending events      {stats['scheduler_pending']}")


if __name__ == "__main__":
    asyncio.run(main())
