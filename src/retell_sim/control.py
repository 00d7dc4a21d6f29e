"""The simulator-only control surface under ``/_sim/`` (not part of Retell's API).

No API key is needed, no fault is injected, and nothing here is counted in the request stats.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from retell_sim.api import read_json
from retell_sim.engine import Simulator
from retell_sim.errors import ApiError, json_response, validate_body
from retell_sim.faults import parse_faults
from retell_sim.outcomes import ForcedOutcome

__all__ = ["control_routes"]


class _Advance(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0)


class _Dnc(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str


class _Reset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workspace: bool = False


class _Faults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    spec: str


def control_routes(sim: Simulator) -> list[Route]:
    """The /_sim/* routes for ``sim``."""

    def clock_state() -> dict[str, Any]:
        return {
            "virtual_now_ms": sim.clock.now_ms(),
            "speed": sim.clock.speed,
            "manual": sim.clock.manual,
            "elapsed_virtual_seconds": round(sim.clock.elapsed_virtual_seconds(), 3),
            "scheduler_pending": sim.scheduler.pending,
        }

    async def stats(request: Request) -> Response:
        return json_response(sim.stats_snapshot())

    async def reset(request: Request) -> Response:
        body = validate_body(_Reset, await read_json(request))
        sim.reset(workspace=body.workspace)
        return json_response({"status": "reset", "workspace_restored": body.workspace})

    async def clock(request: Request) -> Response:
        return json_response(clock_state())

    async def advance(request: Request) -> Response:
        body = validate_body(_Advance, await read_json(request))
        ran = sim.scheduler.advance(body.seconds)
        return json_response({**clock_state(), "events_run": ran})

    async def force(request: Request) -> Response:
        order = validate_body(ForcedOutcome, await read_json(request))
        sim.force(order)
        return json_response(order.model_dump(exclude_none=True))

    async def unforce(request: Request) -> Response:
        if sim.forced.pop(request.path_params["to_number"], None) is None:
            raise ApiError(404, "no forced outcome for this number")
        return Response(status_code=204)

    async def dnc(request: Request) -> Response:
        body = validate_body(_Dnc, await read_json(request))
        sim.add_dnc(body.number)
        return json_response({"number": body.number, "dnc_size": len(sim.dnc)})

    async def batch(request: Request) -> Response:
        found = sim.batches.batches.get(request.path_params["batch_call_id"])
        if found is None:
            raise ApiError(404, "no such batch")
        ids = sim.calls.ids_in_batch(found.batch_call_id)
        completed = sum(1 for call in sim.calls.records(ids) if call.terminal)
        return json_response(
            {
                "batch_call_id": found.batch_call_id,
                "state": found.state,
                "total_task_count": found.total,
                "pending_task_count": len(found.tasks),
                "dispatched_task_count": found.dispatched,
                "completed_call_count": completed,
                "failed_tasks": found.failed,
            }
        )

    async def get_faults(request: Request) -> Response:
        return json_response({"spec": sim.faults.spec.describe()})

    async def set_faults(request: Request) -> Response:
        body = validate_body(_Faults, await read_json(request))
        try:
            spec = parse_faults(body.spec)
        except ValueError as error:
            raise ApiError(400, f"spec: {error}") from None
        sim.faults.set_spec(spec)
        return json_response({"spec": spec.describe()})

    handlers = (
        ("GET", "/_sim/stats", stats),
        ("POST", "/_sim/reset", reset),
        ("GET", "/_sim/clock", clock),
        ("POST", "/_sim/advance", advance),
        ("POST", "/_sim/force", force),
        ("DELETE", "/_sim/force/{to_number}", unforce),
        ("POST", "/_sim/dnc", dnc),
        ("GET", "/_sim/batches/{batch_call_id}", batch),
        ("GET", "/_sim/faults", get_faults),
        ("POST", "/_sim/faults", set_faults),
    )
    return [Route(path, _guarded(handler), methods=[method]) for method, path, handler in handlers]


def _guarded(handler: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await handler(request)
        except ApiError as error:
            return error.response()
        return response

    return endpoint
