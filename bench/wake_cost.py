"""What waking up costs on this machine: one piece of the dialer's per-call work, timed back to
back, after the process slept, and after it spun for as long.

    python bench/wake_cost.py

The work is what the webhook receiver does with one `call_analyzed` delivery (signature check,
JSON, validation of the call), on a call the simulator made, so of the real size. Each figure is
the CPU time of that work alone (`time.thread_time` around it), the mean over `--rounds`.

A dialing run wakes about four times per call (a create's answer, two webhooks, timers) and
sleeps in between; on a virtual machine whose vCPU is handed to other work while it sleeps, the
caches are cold at each wake-up and every piece of work costs several times what it costs back
to back. `bench/dialer_direct.py` reports the run's wake-ups per call beside its CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable

from pydantic import SecretStr

from campaigner.retell import RetellClient
from campaigner.retell.webhooks import (
    read_webhook_payload,
    sign_webhook,
    verify_webhook,
    webhook_event_from_payload,
)
from retell_sim import DEFAULT_API_KEY

sys.path.insert(0, os.path.dirname(__file__))
from dialer_direct import free_port, start_simulator


async def analysed_call(base_url: str) -> dict[str, object]:
    """A connected call placed on the simulator, read back once its analysis is in (as the
    webhook carries it); numbers are tried until one answers."""
    async with RetellClient(api_key=DEFAULT_API_KEY, base_url=base_url) as client:
        for line in range(100):
            call = await client.create_phone_call(
                from_number="+14155550100",
                to_number=f"+1212555{line:04d}",
                idempotency_key=f"wake-cost-{line}",
                dynamic_variables={"first_name": "Ada"},
            )
            # Polling the simulator, which has no event to wait on from here.
            while not (got := await client.get_call(call.call_id)).call_analysis:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            if got.disconnection_reason in {"user_hangup", "agent_hangup"}:
                return got.model_dump(mode="json", exclude_none=True)
    raise RuntimeError("none of 100 simulated calls connected")


def webhook_work(call: dict[str, object]) -> Callable[[], None]:
    key = SecretStr(DEFAULT_API_KEY)
    body = json.dumps({"event": "call_analyzed", "call": call}).encode()
    # Good for five minutes, longer than the bench takes.
    signature = sign_webhook(body, key)

    def take() -> None:
        if not verify_webhook(body, key, signature):
            raise RuntimeError("signature check failed")
        webhook_event_from_payload(read_webhook_payload(body))

    print(f"one call_analyzed delivery: {len(body):,} bytes")
    return take


def cpu_us(work: Callable[[], None], rounds: int, pause: Callable[[], None] | None) -> float:
    total = 0.0
    for _ in range(rounds):
        if pause is not None:
            pause()
        started = time.thread_time()
        work()
        total += time.thread_time() - started
    return 1e6 * total / rounds


def spin(seconds: float) -> Callable[[], None]:
    def pause() -> None:
        # Busy on purpose: the process keeps its CPU, as it would under load.
        until = time.perf_counter() + seconds
        while time.perf_counter() < until:
            pass

    return pause


def sleep(seconds: float) -> Callable[[], None]:
    return lambda: time.sleep(seconds)


def main(args: argparse.Namespace) -> None:
    port = free_port()
    sim_args = argparse.Namespace(speed=1000.0, concurrency=10, cps=100.0)
    simulator = start_simulator(sim_args, port, None)
    try:
        call = asyncio.run(analysed_call(f"http://127.0.0.1:{port}"))
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    work = webhook_work(call)
    for _ in range(200):
        work()
    print(f"CPU time of taking it, mean of {args.rounds} ({os.cpu_count()} CPUs)")
    print(f"  back to back                {cpu_us(work, args.rounds, None):7.1f} us")
    for gap_ms in (1, 10, 30):
        gap = gap_ms / 1000
        slept = cpu_us(work, args.rounds, sleep(gap))
        spun = cpu_us(work, args.rounds, spin(gap))
        print(f"  after {gap_ms:>2} ms asleep / spinning {slept:7.1f} / {spun:6.1f} us")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    main(parser.parse_args())
