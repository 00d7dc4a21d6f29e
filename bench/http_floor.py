"""The HTTP floor under the dialer's CPU per call: what one request costs this process, with
nothing of campaigner's own work around it.

    python bench/http_floor.py              # 2,000 of each

- create: `RetellClient.create_phone_call` against the simulator (in its own process), one
  keep-alive connection: the client side of the one request a dialed call needs.
- raw httpx: the same POST through a bare `httpx.AsyncClient`, the transport the client sends
  through: what the client's own work (the body, the answer's validation) adds shows as the
  difference.
- webhook: signed deliveries posted by another process to `serve_webhook_inbox` in this one
  (uvicorn, signature check, parsing): the receiving side of each webhook (Retell sends three
  per call: started, ended, analyzed).

Each figure is this process's CPU time (user + system, which on loopback includes the kernel's
work for both ends of the socket) divided by the requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

import httpx
from pydantic import SecretStr

from campaigner.dialer.webhook_inbox import serve_webhook_inbox
from campaigner.retell import RetellClient
from retell_sim import DEFAULT_API_KEY

sys.path.insert(0, os.path.dirname(__file__))
from dialer_direct import free_port, start_simulator

# Posts `count` signed call_ended webhooks to `url`, 8 at a time (like a busy Retell).
_POSTER = """
import asyncio, json, sys, time
import httpx
from campaigner.retell.webhooks import sign_webhook
url, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
call = {"call_id": "call_x", "call_type": "phone_call", "agent_id": "a", "call_status": "ended",
        "metadata": {"campaign": "bench", "attempt": "1"}, "disconnection_reason": "user_hangup",
        "start_timestamp": 1, "end_timestamp": 2}
async def main():
    async with httpx.AsyncClient() as client:
        async def one(i):
            body = json.dumps({"event": "call_ended", "call": {**call, "call_id": f"call_{i}"}})
            headers = {"x-retell-signature": sign_webhook(body, key),
                       "content-type": "application/json"}
            (await client.post(url, content=body, headers=headers)).raise_for_status()
        for start in range(0, count, 8):
            await asyncio.gather(*(one(i) for i in range(start, min(start + 8, count))))
asyncio.run(main())
"""


def cpu_ms_per(count: int, started: float) -> float:
    return 1000 * (time.process_time() - started) / count


async def measure_create(base_url: str, count: int) -> float:
    async with RetellClient(api_key=DEFAULT_API_KEY, base_url=base_url) as client:
        started = time.process_time()
        for n in range(count):
            await client.create_phone_call(
                from_number="+14155550100",
                to_number=f"+1212555{n % 10_000:04d}",
                idempotency_key=f"floor-{n}",
                metadata={"campaign": "floor", "attempt": str(n)},
            )
        return cpu_ms_per(count, started)


async def measure_raw(base_url: str, count: int) -> float:
    headers = {"authorization": f"Bearer {DEFAULT_API_KEY}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        started = time.process_time()
        for n in range(count):
            body: dict[str, Any] = {
                "from_number": "+14155550100",
                "to_number": f"+1646555{n % 10_000:04d}",
                "metadata": {"campaign": "floor", "attempt": str(n)},
                "idempotency_key": f"raw-{n}",
            }
            response = await client.post(
                "/v2/create-phone-call",
                content=json.dumps(body),
                headers={"content-type": "application/json"},
            )
            response.raise_for_status()
        return cpu_ms_per(count, started)


async def measure_webhooks(count: int) -> float:
    async with serve_webhook_inbox(webhook_api_key=SecretStr(DEFAULT_API_KEY)) as inbox:
        poster = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _POSTER, inbox.url, DEFAULT_API_KEY, str(count)
        )
        started = time.process_time()
        await poster.wait()
        per_call = cpu_ms_per(count, started)
        if poster.returncode != 0 or inbox.counters.received != count:
            raise RuntimeError(f"{inbox.counters.received} of {count} webhooks arrived")
        return per_call


async def main(args: argparse.Namespace) -> None:
    port = free_port()
    # Slow simulated calls and a high limit: the creates never meet a full account.
    sim_args = argparse.Namespace(speed=1.0, concurrency=10 * args.count, cps=10_000.0)
    simulator: subprocess.Popen[bytes] = start_simulator(sim_args, port, None)
    try:
        base_url = f"http://127.0.0.1:{port}"
        create = await measure_create(base_url, args.count)
        raw = await measure_raw(base_url, args.count)
    finally:
        simulator.terminate()
        simulator.wait(timeout=10)
    webhook = await measure_webhooks(args.count)
    print(f"HTTP floor, {args.count} requests each (CPU of this process per request)")
    print(f"  create-phone-call, RetellClient   {create:.2f} ms")
    print(f"  the same POST, bare httpx         {raw:.2f} ms")
    print(f"  one webhook received (uvicorn)    {webhook:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    asyncio.run(main(parser.parse_args()))
