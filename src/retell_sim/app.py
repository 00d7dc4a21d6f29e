"""The Starlette application: Retell's routes behind one gate, plus /_sim/* controls.

The gate in front of every API handler counts the request, checks the bearer key (401), applies the
per-key rate limit (429 with Retry-After), draws an injected fault, and renders `ApiError` as
Retell's error body. It is a plain function wrapper, not middleware, to keep the hot path short.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.utils import formatdate

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from retell_sim.api import API_ROUTES, Endpoint, Handler, RetellApi
from retell_sim.config import SimulatorConfig
from retell_sim.control import control_routes
from retell_sim.engine import Simulator
from retell_sim.errors import (
    MESSAGE_NO_ROUTE,
    MESSAGE_RATE_LIMITED,
    MESSAGE_SERVER_ERROR,
    MESSAGE_UNAUTHORIZED,
    ApiError,
    error_response,
)

__all__ = ["DroppedResponse", "create_app"]


class DroppedResponse(Response):
    """A response that is never finished: the head promises a body that never fully arrives, so
    the server closes the connection and the client sees a protocol error."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"call_id":"', "more_body": True})


def _gate(sim: Simulator, endpoint: Endpoint, handler: Handler) -> Handler:
    name = f"{endpoint.method} {endpoint.path}"
    expected = f"Bearer {sim.api_key}".encode()
    creates = endpoint.creates_calls

    async def serve(request: Request) -> Response:
        response = await answer(request)
        # Retell's clock is the simulator's virtual one: a client measuring how old an
        # idempotency key is on Retell's side reads it here, as it reads Date from Retell.
        response.headers["date"] = formatdate(sim.clock.now_ms() / 1000, usegmt=True)
        return response

    async def answer(request: Request) -> Response:
        sim.stats.count_request(name)
        presented = request.headers.get("authorization", "").encode("latin-1")
        if not hmac.compare_digest(presented, expected):
            return error_response(401, MESSAGE_UNAUTHORIZED)
        wait = sim.rate_limiter.check(sim.api_key)
        if wait > 0:
            return sim.rate_limited(wait).response()
        fault = sim.faults.draw(creates=creates)
        if fault == "capacity":
            sim.stats.faults_injected[fault] += 1
            # The handler refuses the call for capacity, as Retell does when the workspace is full.
            request.state.refuse_for_capacity = True
        elif fault is not None and fault != "lost_create":
            sim.stats.faults_injected[fault] += 1
            if fault == "slow":
                await asyncio.sleep(sim.faults.spec.slow_seconds)
            elif fault == "5xx":
                return error_response(sim.faults.server_error_status(), MESSAGE_SERVER_ERROR)
            elif fault == "429":
                headers = (
                    {"retry-after": "1", "retry-after-ms": "1000"}
                    if sim.config.retry_after_headers
                    else {}
                )
                return error_response(429, MESSAGE_RATE_LIMITED, headers)
            else:
                return DroppedResponse()
        try:
            response = await handler(request)
        except ApiError as error:
            return error.response()
        except ClientDisconnect:
            # The client hung up before its body arrived: nobody reads this answer, and nothing
            # was done. 499 is the conventional "client closed request".
            return Response(status_code=499)
        if fault == "lost_create" and response.status_code < 300:
            sim.stats.faults_injected[fault] += 1
            if sim.faults.spec.lost_create_hang_seconds > 0:
                await asyncio.sleep(sim.faults.spec.lost_create_hang_seconds)
            return DroppedResponse()
        return response

    return serve


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = (
        MESSAGE_NO_ROUTE
        if status == 404
        else (exc.detail if isinstance(exc, HTTPException) else "")
    )
    return error_response(status, message or MESSAGE_SERVER_ERROR)


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(500, MESSAGE_SERVER_ERROR)


def create_app(config: SimulatorConfig) -> Starlette:
    """A Retell-compatible app. It owns its `Simulator` (``app.state.simulator``), whose scheduler
    and webhook client run for the app's lifespan."""
    sim = Simulator(config)
    api = RetellApi(sim)
    routes = [
        Route(
            endpoint.path,
            _gate(sim, endpoint, api.handler(endpoint.handler)),
            methods=[endpoint.method],
        )
        for endpoint in API_ROUTES
    ]
    routes.extend(control_routes(sim))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sim.start()
        try:
            yield
        finally:
            await sim.stop()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.simulator = sim
    return app
