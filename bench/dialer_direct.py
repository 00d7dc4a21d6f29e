"""Dialing against the simulator: slot utilisation, wall time against its lower bound, API
requests per finished call, and the orchestrator's CPU and memory per dialed call.

    python bench/dialer_direct.py                      # 2,000 contacts, 20 slots, webhooks
    python bench/dialer_direct.py --mode batch         # the same in batch mode (Retell paces)
    python bench/dialer_direct.py --results polling    # results by polling only
    python bench/dialer_direct.py --naive              # the naive loop on the same workload
    python bench/dialer_direct.py --contacts 100000 --calls 2000   # memory with a large store
    python bench/dialer_direct.py --webhook-events all # call_started delivered too
    python bench/dialer_direct.py --progress           # with live progress, as `campaigner run`

The simulator runs in its own process (`campaigner sim`), so the CPU and memory figures are the
orchestrator's alone. Times on the simulator's clock are virtual seconds (`--speed` times real).
The agent is subscribed to `call_ended` and `call_analyzed` only (what campaigner uses), unless
`--webhook-events all`.

- utilisation (the issue's figure) = busy slot-seconds / (slots x the span from the first call to
  the last call's end): the first call is the run's first create request, the last end is read
  from the calls' timestamps; busy slot-seconds are the simulator's (create to end, ringing
  included)
- utilisation over the whole run = the same busy slot-seconds / (slots x the run's virtual span),
  which also counts the run's start and its wait for the last calls' analyses
- lower bound = max(calls / CPS, busy slot-seconds / slots); the ratio is virtual span / bound
- requests per finished call = every API request the simulator served during the run / calls
- times it slept per call = the process's voluntary context switches during the run / calls
  (each a wait: for the network, a timer, or the disk)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from campaigner import eventloop
from campaigner.campaign import parse_campaign
from campaigner.dialer.runner import CampaignRunner, RunOptions
from campaigner.dialer.webhook_inbox import serve_webhook_inbox
from campaigner.retell import RateLimited, RetellClient
from campaigner.retell.client import MAX_KEEPALIVE_CONNECTIONS
from campaigner.store import make_engine, upgrade_database
from retell_sim import DEFAULT_API_KEY

CREATE_PATHS = frozenset({"/v2/create-phone-call", "/create-batch-call"})
RESULT_EVENTS = ["call_ended", "call_analyzed"]

CAMPAIGN = """
name: bench
agent: {{agent_id: agent_campaigner_demo}}
from_numbers: ["+14155550100"]
columns: {{phone: phone, dynamic_variables: {{first_name: first_name}}}}
window: {{days: [mon, tue, wed, thu, fri, sat, sun], start: "00:00", end: "23:59",
         allow_outside_federal_hours: true}}
caps: {{calls_per_second: {cps}, max_calls_per_number_per_24h: 100}}
mode: {mode}
batch: {{size: {batch_size}}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def contact_numbers(count: int) -> list[str]:
    """Distinct valid NANP numbers in 555 lines (a temporary file; nothing is really dialed)."""
    areas = ["212", "310", "312", "415", "617", "702", "713", "808", "907", "602"]
    numbers = []
    for line in range(10_000):
        for area in areas:
            numbers.append(f"+1{area}555{line:04d}")
            if len(numbers) == count:
                return numbers
    raise ValueError(f"at most {len(areas) * 10_000} contacts")


def start_simulator(
    args: argparse.Namespace, port: int, webhook_url: str | None
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "campaigner", "sim", "--port", str(port),
        "--speed", str(args.speed), "--concurrency", str(args.concurrency),
        "--cps", str(args.cps), "--seed", "1",
    ]  # fmt: skip
    if webhook_url:
        command += ["--webhook-url", webhook_url]
    env = {**os.environ, "RETELL_API_KEY": DEFAULT_API_KEY}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/_sim/clock", timeout=1).raise_for_status()
            return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the simulator did not start")


class FirstCreateTransport(httpx.AsyncBaseTransport):
    """httpx's own transport with the client's limits, as `RetellClient` sends through it, noting
    when the run's first create request went out (real monotonic time)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport(
            limits=httpx.Limits(
                max_connections=100, max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS
            )
        )
        self.first_create_at: float | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.first_create_at is None and request.url.path in CREATE_PATHS:
            self.first_create_at = time.monotonic()
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def subscribe_agent(port: int, events: list[str]) -> None:
    """Set the bench agent's webhook events (before the run's stats are read)."""
    response = httpx.patch(
        f"http://127.0.0.1:{port}/update-agent/agent_campaigner_demo",
        json={"webhook_events": events},
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
        timeout=10,
    )
    response.raise_for_status()


def sim_get(port: int, path: str) -> dict[str, Any]:
    response = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def prepare_store(workdir: Path, args: argparse.Namespace) -> tuple[Any, Any]:
    cps = args.cps * args.speed
    campaign = CAMPAIGN.format(cps=cps, mode=args.mode, batch_size=args.batch_size)
    config = parse_campaign(campaign)
    engine = make_engine(f"sqlite:///{workdir / 'bench.db'}")
    upgrade_database(engine)
    csv = workdir / "contacts.csv"
    rows = "".join(f"{n},Person {i}\n" for i, n in enumerate(contact_numbers(args.contacts)))
    csv.write_text("phone,first_name\n" + rows)
    campaign_file = workdir / "bench.yaml"
    campaign_file.write_text(campaign)
    # Imported by another process, so the peak RSS below is the dialer's alone.
    subprocess.run(
        [sys.executable, "-m", "campaigner", "ingest", str(campaign_file), str(csv), "--json"],
        env={**os.environ, "CAMPAIGNER_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}"},
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=workdir,
    )
    return config, engine


def sim_client(port: int, transport: httpx.AsyncBaseTransport | None = None) -> RetellClient:
    return RetellClient(
        api_key=DEFAULT_API_KEY, base_url=f"http://127.0.0.1:{port}", transport=transport
    )


async def run_campaigner(
    args: argparse.Namespace,
    config: Any,
    engine: Any,
    port: int,
    inbox: Any,
    transport: FirstCreateTransport,
) -> int:
    options = RunOptions(poll_interval=args.poll_interval)
    async with sim_client(port, transport) as client:
        runner = CampaignRunner(
            config=config,
            engine=engine,
            client=client,
            options=options,
            webhooks=inbox,
            # What `campaigner run` on a terminal and the flows' progress artifact ask for.
            on_progress=(lambda _progress: None) if args.progress else None,
        )
        if args.calls:
            return await _run_until_calls(runner, args.calls)
        summary = await runner.run()
        print(f"  stopped because           {summary.stop_reason}")
        return summary.calls_placed


async def _run_until_calls(runner: CampaignRunner, calls: int) -> int:
    """For the memory figure on a big store: stop once `calls` calls were placed."""
    task = asyncio.create_task(runner.run())
    # Sampling a counter the runner owns; there is no event to wait on.
    while not task.done() and runner.progress.calls_placed < calls:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return runner.progress.calls_placed


async def run_naive(args: argparse.Namespace, port: int, transport: FirstCreateTransport) -> int:
    """The naive loop: create, then poll get-call every 2 (virtual) seconds, N at a time."""
    numbers = contact_numbers(args.contacts)
    slots = asyncio.Semaphore(args.concurrency)
    poll = 2.0 / args.speed

    async def one(client: RetellClient, index: int, number: str) -> None:
        async with slots:
            while True:
                try:
                    call = await client.create_phone_call(
                        from_number="+14155550100",
                        to_number=number,
                        idempotency_key=f"naive-{index}",
                    )
                    break
                except RateLimited as error:  # even a naive script waits when told to
                    await asyncio.sleep(error.retry_after or 1.0)
            while not call.is_terminal:
                await asyncio.sleep(poll)
                call = await client.get_call(call.call_id)

    async with sim_client(port, transport) as client:
        await asyncio.gather(*(one(client, i, n) for i, n in enumerate(numbers)))
    return len(numbers)


async def measure(args: argparse.Namespace, workdir: Path) -> None:
    port = free_port()
    webhook_port = free_port() if args.results == "webhooks" and not args.naive else None
    webhook_url = f"http://127.0.0.1:{webhook_port}/retell/webhook" if webhook_port else None
    config = engine = None
    if not args.naive:
        config, engine = prepare_store(workdir, args)
    simulator = start_simulator(args, port, webhook_url)
    transport = FirstCreateTransport()
    try:
        if args.webhook_events == "results":
            subscribe_agent(port, RESULT_EVENTS)
        before = sim_get(port, "/_sim/stats")
        clock_start = sim_get(port, "/_sim/clock")["virtual_now_ms"]
        cpu_start, wall_start = time.process_time(), time.monotonic()
        sleeps_start = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
        if args.naive:
            calls = await run_naive(args, port, transport)
        elif webhook_port:
            key = SecretStr(DEFAULT_API_KEY)
            async with serve_webhook_inbox(webhook_api_key=key, port=webhook_port) as inbox:
                calls = await run_campaigner(args, config, engine, port, inbox, transport)
        else:
            calls = await run_campaigner(args, config, engine, port, None, transport)
        cpu, wall = time.process_time() - cpu_start, time.monotonic() - wall_start
        sleeps = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - sleeps_start
        clock_end = sim_get(port, "/_sim/clock")["virtual_now_ms"]
        after = sim_get(port, "/_sim/stats")
        last_end = await last_call_end_ms(port)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    if transport.first_create_at is None:
        raise RuntimeError("the run sent no create request")
    # The simulator's clock runs `speed` times real time from the reading at the run's start.
    first_create = clock_start + (transport.first_create_at - wall_start) * 1000 * args.speed
    spans = ((clock_end - clock_start) / 1000, (last_end - first_create) / 1000)
    report(args, calls, (cpu, wall, sleeps), spans, before, after)


async def last_call_end_ms(port: int) -> int:
    """When the run's last call ended, on the simulator's clock (read after the stats)."""
    async with sim_client(port) as client:
        return max([call.end_timestamp async for call in client.iter_calls() if call.end_timestamp])


def report(
    args: argparse.Namespace,
    calls: int,
    costs: tuple[float, float, int],
    spans: tuple[float, float],
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    span, span_of_calls = spans
    cpu, wall, sleeps = costs
    busy = after["busy_slot_seconds"] - before["busy_slot_seconds"]
    requests = after["total_requests"] - before["total_requests"]
    created = after["calls_created"] - before["calls_created"]
    bound = max(created / args.cps, busy / args.concurrency)
    progress = ", live progress" if args.progress else ""
    mode = (
        "naive loop" if args.naive else f"campaigner ({args.mode} mode, {args.results}{progress})"
    )
    print(
        f"{mode}: {args.contacts} contacts, {args.concurrency} slots, {args.cps} CPS, "
        f"speed {args.speed}x"
    )
    print(f"  calls placed              {created}")
    print(
        f"  virtual span              {span:,.0f} s (lower bound {bound:,.0f} s, "
        f"ratio {span / bound:.3f})"
    )
    print(
        f"  slot utilisation          {busy / (args.concurrency * span_of_calls):.1%} "
        f"(first call to last call's end, {span_of_calls:,.0f} s)"
    )
    print(f"    over the whole run      {busy / (args.concurrency * span):.1%}")
    print(f"  peak concurrency          {after['peak_concurrency']}")
    print(f"  API requests per call     {requests / max(created, 1):.3f} ({requests} requests)")
    print(
        f"  orchestrator CPU per call {1000 * cpu / max(calls, 1):.2f} ms ({cpu:.1f} s CPU, "
        f"{wall:.1f} s wall)"
    )
    print(
        f"  times it slept per call   {sleeps / max(calls, 1):.1f} "
        "(each wake-up costs cold caches here: bench/wake_cost.py)"
    )
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS                  {rss_mb:,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--cps", type=float, default=5.0, help="virtual calls per second")
    parser.add_argument("--speed", type=float, default=50.0)
    parser.add_argument("--results", choices=["webhooks", "polling"], default="webhooks")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument(
        "--webhook-events",
        choices=["results", "all"],
        default="results",
        help="the agent's webhook subscription: call_ended and call_analyzed, or Retell's default",
    )
    parser.add_argument("--naive", action="store_true")
    parser.add_argument("--mode", choices=["direct", "batch"], default="direct")
    parser.add_argument("--batch-size", type=int, default=500, help="tasks per batch (batch mode)")
    parser.add_argument("--calls", type=int, default=0, help="stop after this many calls")
    parser.add_argument(
        "--progress",
        action="store_true",
        help="the run reports live progress (campaign counts), as `campaigner run` does",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        eventloop.run(measure(args, Path(workdir)))


if __name__ == "__main__":
    main()
