"""The simulator's command line: `python -m retell_sim`; `campaigner sim` hands its arguments here.

It serves until Ctrl-C, prints where and which key to send (the key itself only when it is the
public demo key), and turns an invalid option into one line on stderr with exit code 2. It is
built on the standard library's argparse, so the simulator depends on nothing its server does not.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from retell_sim.config import SimulatorConfig, resolve_api_key
from retell_sim.server import serve_until_stopped

__all__ = ["main"]

# The SimulatorConfig field each option sets, so a validation error names the option.
_OPTION_FIELDS = {
    "speed": "speed",
    "concurrency": "concurrency_limit",
    "concurrency_exhausted": "concurrency_exhausted",
    "cps": "cps",
    "cps_exceeded": "cps_exceeded",
    "rate_limit": "rate_limit",
    "seed": "seed",
    "faults": "faults",
    "empty": "empty",
    "webhook_url": "account_webhook_url",
    "analysis_delay": "analysis_delay_s",
    "webhook_api_key": "webhook_api_key",
    "trunk_failure": "trunk_failure",
    "credit_calls": "credit_calls",
    "out_of_credit_reason": "out_of_credit_reason",
    "batch_failure_timestamps": "batch_failure_timestamps",
}
_FIELD_OPTIONS = {field: "--" + dest.replace("_", "-") for dest, field in _OPTION_FIELDS.items()}


def _parser(prog: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve the Retell-compatible simulator (see docs/simulator.md) until Ctrl-C.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="Interface to listen on.")
    add("--port", type=int, default=8765, help="Port to listen on (0 = any free port).")
    add(
        "--speed",
        type=float,
        default=1.0,
        help="Virtual seconds per real second; 0 = manual clock.",
    )
    add("--concurrency", type=int, default=20, help="Workspace concurrency limit.")
    add("--cps", type=float, default=1.0, help="Outbound dials per second (per workspace).")
    add("--seed", type=int, default=0, help="Seed of the outcome model and the faults.")
    add(
        "--faults",
        default="none",
        help="none, flaky, hostile, or a spec such as 5xx=0.02,drop=0.005.",
    )
    add("--api-key", help="Key clients must send (default: $RETELL_API_KEY, else the demo key).")
    add(
        "--empty",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="Start without the demo workspace.",
    )
    add(
        "--concurrency-exhausted",
        default="error_call",
        help="A create beyond the limit: error_call (201, then error) or 429.",
    )
    add(
        "--cps-exceeded",
        default="429",
        help="A create beyond the CPS: 429, or queue it until its dial slot.",
    )
    add(
        "--rate-limit",
        type=float,
        help="API requests per second per key (default: no limit).",
    )
    add("--webhook-url", help="Account-level webhook URL (agents without their own webhook_url).")
    add("--webhook-api-key", help="Key webhooks are signed with (default: the API key).")
    add(
        "--analysis-delay",
        type=float,
        default=3.0,
        help="Virtual seconds from a call's end to its post-call analysis.",
    )
    add(
        "--trunk-failure",
        help="Fail every call at once with this trunk-level reason, e.g. sip_routing_error.",
    )
    add(
        "--credit-calls",
        type=int,
        help="Calls the credit pays for; later creates answer 402 (default: no limit).",
    )
    add(
        "--out-of-credit-reason",
        default="credit_exhausted",
        help="How calls end once the credit is spent: credit_exhausted or no_valid_payment.",
    )
    add(
        "--batch-failure-timestamps",
        default="start_and_end",
        help="Timestamps batch calls that never connect keep: start_and_end, start_only, "
        "end_only or none.",
    )
    return parser


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Serve with the options of `argv` (default: the process's) until Ctrl-C; the exit code."""
    options = vars(_parser(prog).parse_args(argv))
    key, source = resolve_api_key(options["api_key"])
    fields = {field: options[dest] for dest, field in _OPTION_FIELDS.items()}
    try:
        config = SimulatorConfig.model_validate({"api_key": key, **fields})
    except ValidationError as error:
        problem = error.errors(include_url=False)[0]
        field = str(problem["loc"][0]) if problem["loc"] else ""
        return _fail(f"{_FIELD_OPTIONS.get(field, field)}: {problem['msg']}")
    hints = {
        "default": f"API key: {key} (the demo key)",
        "--api-key": "API key: the one given with --api-key",
    }

    def announce(base_url: str) -> None:
        # Flushed: whoever started us reads these lines from a pipe to learn the URL.
        print(f"Retell simulator listening on {base_url}", flush=True)
        print(hints.get(source, f"API key: from ${source}"), flush=True)
        print(f"Point clients at it with RETELL_BASE_URL={base_url}. Ctrl-C stops it.", flush=True)

    try:
        serve_until_stopped(config, host=options["host"], port=options["port"], announce=announce)
    except OSError as error:
        return _fail(f"cannot listen on {options['host']}:{options['port']}: {error.strerror}")
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl-C it caught once it has shut down cleanly.
        print("Retell simulator stopped.", flush=True)
    return 0
