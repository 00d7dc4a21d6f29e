"""Helpers for tests against the simulator: SDK-model checks, a webhook sink, call shortcuts."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pydantic

from retell_sim import OutcomeModel, SimulatorHandle

# Everyone answers at once and talks for a minute: slot times become exact.
INSTANT = OutcomeModel.everyone_answers(
    ring_answer_s=(0.0, 0.0), conversation_median_s=60, conversation_sigma=0
)


def api_client(sim: SimulatorHandle, **kwargs: Any) -> httpx.Client:
    """An httpx client for ``sim`` with the bearer key."""
    headers = {"Authorization": f"Bearer {sim.api_key}"}
    return httpx.Client(base_url=sim.base_url, headers=headers, **kwargs)


def create_call(http: httpx.Client, to_number: str = "+14155551000", **body: Any) -> dict[str, Any]:
    """Create a call from the demo number; assert 201 and return the call."""
    payload = {"from_number": "+14155550100", "to_number": to_number, **body}
    response = http.post("/v2/create-phone-call", json=payload)
    assert response.status_code == 201, response.text
    call: dict[str, Any] = response.json()
    return call


def create_batch(http: httpx.Client, tasks: int, **body: Any) -> dict[str, Any]:
    """Submit a batch of ``tasks`` calls from the demo number; assert 201 and return it."""
    payload = {
        "from_number": "+14155550100",
        "tasks": [{"to_number": f"+1415800{n:04d}", "metadata": {"task": n}} for n in range(tasks)],
        **body,
    }
    response = http.post("/create-batch-call", json=payload)
    assert response.status_code == 201, response.text
    batch: dict[str, Any] = response.json()
    return batch


def batch_calls(http: httpx.Client, batch_call_id: str) -> list[dict[str, Any]]:
    """The calls of a batch (list-calls items), first placed first."""
    body = {
        "filter_criteria": {
            "batch_call_id": {"type": "string", "op": "eq", "value": batch_call_id}
        },
        "limit": 1000,
        "sort_order": "ascending",
    }
    items: list[dict[str, Any]] = http.post("/v3/list-calls", json=body).json()["items"]
    return items


def force(http: httpx.Client, to_number: str, reason: str, **extra: Any) -> None:
    """Order the outcome of every call to ``to_number``."""
    body = {"to_number": to_number, "disconnection_reason": reason, **extra}
    response = http.post("/_sim/force", json=body)
    assert response.status_code == 200, response.text


def assert_model(model: type[pydantic.BaseModel], data: Any) -> pydantic.BaseModel:
    """Validate ``data`` against an SDK response model and fail on any key the model lacks,
    at any depth, so a misspelt field cannot pass unnoticed."""
    parsed = model.model_validate(data)
    _assert_no_extra(parsed, model.__name__)
    return parsed


def _assert_no_extra(value: Any, path: str) -> None:
    if isinstance(value, pydantic.BaseModel):
        extra = value.model_extra or {}
        assert not extra, f"{path}: keys unknown to the SDK model: {sorted(extra)}"
        for name in type(value).model_fields:
            _assert_no_extra(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _assert_no_extra(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _assert_no_extra(item, f"{path}.{key}")


@dataclass
class Delivery:
    """One webhook request as received."""

    body: str
    signature: str
    payload: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.payload = json.loads(self.body)


class WebhookSink:
    """A real HTTP server that records webhook deliveries; ``failures[event]`` answers that many
    deliveries of ``event`` with 500 before accepting it."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.failures: dict[str, int] = {}
        self._changed = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length).decode()
                delivery = Delivery(body, self.headers.get("x-retell-signature", ""))
                with sink._changed:
                    event = delivery.payload.get("event", "")
                    status = 500 if sink.failures.get(event, 0) > 0 else 204
                    if status == 500:
                        sink.failures[event] -= 1
                    sink.deliveries.append(delivery)
                    sink._changed.notify_all()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhook"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> WebhookSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivery]:
        """Block until ``count`` deliveries arrived (fail after ``timeout`` real seconds)."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.deliveries) >= count, timeout)
            assert arrived, f"expected {count} webhook deliveries, got {len(self.deliveries)}"
            return list(self.deliveries)
