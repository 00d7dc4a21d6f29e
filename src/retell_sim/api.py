"""Retell's HTTP surface: one handler per endpoint, paths as retell-sdk 6.2.13 calls them.

Handlers only translate between HTTP and `Simulator`; auth, rate limits, faults and request counts
are the gate's business (see `retell_sim.app`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from retell_sim.engine import Simulator
from retell_sim.errors import MESSAGE_BAD_FORMAT, ApiError, json_response, validate_body
from retell_sim.listing import ListCallsBody, list_calls_v3
from retell_sim.workspace import VOICES, page_by_id

__all__ = ["API_ROUTES", "Endpoint", "RetellApi"]

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    """One API route: method, path, the `RetellApi` method that serves it, and whether it creates
    calls (the only requests a ``lost_create`` fault applies to)."""

    method: str
    path: str
    handler: str
    creates_calls: bool = False


API_ROUTES: tuple[Endpoint, ...] = (
    Endpoint("POST", "/v2/create-phone-call", "create_phone_call", creates_calls=True),
    Endpoint("GET", "/v2/get-call/{call_id}", "get_call"),
    Endpoint("POST", "/v3/list-calls", "list_calls"),
    Endpoint("PATCH", "/v2/update-call/{call_id}", "update_call"),
    Endpoint("DELETE", "/v2/delete-call/{call_id}", "delete_call"),
    Endpoint("POST", "/v2/stop-call/{call_id}", "stop_call"),
    Endpoint("POST", "/v3/create-web-call", "create_web_call", creates_calls=True),
    Endpoint("POST", "/v2/create-web-call", "create_web_call_legacy", creates_calls=True),
    Endpoint("POST", "/create-batch-call", "create_batch_call", creates_calls=True),
    Endpoint("GET", "/get-concurrency", "get_concurrency"),
    Endpoint("POST", "/create-agent", "create_agent"),
    Endpoint("GET", "/get-agent/{agent_id}", "get_agent"),
    Endpoint("POST", "/create-agent-version/{agent_id}", "create_agent_version"),
    Endpoint("POST", "/v2/list-agents", "list_agents"),
    Endpoint("GET", "/list-agents", "list_agents_legacy"),
    Endpoint("PATCH", "/update-agent/{agent_id}", "update_agent"),
    Endpoint("DELETE", "/delete-agent/{agent_id}", "delete_agent"),
    Endpoint("POST", "/create-retell-llm", "create_llm"),
    Endpoint("GET", "/get-retell-llm/{llm_id}", "get_llm"),
    Endpoint("GET", "/v2/list-retell-llms", "list_llms"),
    Endpoint("GET", "/list-retell-llms", "list_llms_legacy"),
    Endpoint("PATCH", "/update-retell-llm/{llm_id}", "update_llm"),
    Endpoint("DELETE", "/delete-retell-llm/{llm_id}", "delete_llm"),
    Endpoint("POST", "/create-phone-number", "create_phone_number"),
    Endpoint("POST", "/import-phone-number", "import_phone_number"),
    Endpoint("GET", "/get-phone-number/{phone_number}", "get_phone_number"),
    Endpoint("GET", "/v2/list-phone-numbers", "list_phone_numbers"),
    Endpoint("GET", "/list-phone-numbers", "list_phone_numbers_legacy"),
    Endpoint("PATCH", "/update-phone-number/{phone_number}", "update_phone_number"),
    Endpoint("DELETE", "/delete-phone-number/{phone_number}", "delete_phone_number"),
    Endpoint("GET", "/get-voice/{voice_id}", "get_voice"),
    Endpoint("GET", "/list-voices", "list_voices"),
)


def _no_content() -> Response:
    return Response(status_code=204)


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object body ({} when empty); 400 on anything else."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, MESSAGE_BAD_FORMAT) from None
    if not isinstance(data, dict):
        raise ApiError(400, "request body must be a JSON object")
    return data


def _query_int(request: Request, name: str, default: int, *, low: int = 1, high: int = 1000) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(400, f"{name}: must be an integer, got {text!r}") from None
    if not low <= value <= high:
        raise ApiError(400, f"{name}: must be between {low} and {high}, got {value}")
    return value


def _sort_order(request: Request, default: str = "descending") -> str:
    order = request.query_params.get("sort_order", default)
    if order not in ("ascending", "descending"):
        raise ApiError(400, f"sort_order: must be ascending or descending, got {order!r}")
    return order


def _paged(request: Request, items: list[dict[str, Any]], id_field: str) -> dict[str, Any]:
    page, has_more, key = page_by_id(
        items,
        id_field,
        limit=_query_int(request, "limit", 1000),
        pagination_key=request.query_params.get("pagination_key"),
        sort_order=_sort_order(request),
    )
    return {"items": page, "has_more": has_more, "pagination_key": key}


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("true", "1", "yes")


class RetellApi:
    """The endpoint handlers, bound to one simulator."""

    def __init__(self, simulator: Simulator) -> None:
        self.sim = simulator

    def handler(self, name: str) -> Handler:
        """The handler method called ``name``."""
        method: Handler = getattr(self, name)
        return method

    # Calls

    async def create_phone_call(self, request: Request) -> Response:
        """POST /v2/create-phone-call."""
        refuse = getattr(request.state, "refuse_for_capacity", False)
        call = self.sim.create_phone_call(await read_json(request), refuse_for_capacity=refuse)
        return json_response(call.full(), 201)

    async def get_call(self, request: Request) -> Response:
        """GET /v2/get-call/{call_id}."""
        return json_response(self.sim.call(request.path_params["call_id"]).full())

    async def list_calls(self, request: Request) -> Response:
        """POST /v3/list-calls."""
        body = validate_body(ListCallsBody, await read_json(request))
        return json_response(list_calls_v3(body, self.sim.calls))

    async def update_call(self, request: Request) -> Response:
        """PATCH /v2/update-call/{call_id}."""
        call = self.sim.update_call(request.path_params["call_id"], await read_json(request))
        return json_response(call.full())

    async def delete_call(self, request: Request) -> Response:
        """DELETE /v2/delete-call/{call_id}."""
        self.sim.delete_call(request.path_params["call_id"])
        return _no_content()

    async def stop_call(self, request: Request) -> Response:
        """POST /v2/stop-call/{call_id}."""
        self.sim.stop_call(request.path_params["call_id"])
        return _no_content()

    async def create_web_call(self, request: Request) -> Response:
        """POST /v3/create-web-call."""
        call = self.sim.create_web_call(await read_json(request))
        return json_response(self.sim.web_call_connection(call), 201)

    async def create_web_call_legacy(self, request: Request) -> Response:
        """POST /v2/create-web-call (the full web call object)."""
        call = self.sim.create_web_call(await read_json(request))
        return json_response(call.full(), 201)

    async def create_batch_call(self, request: Request) -> Response:
        """POST /create-batch-call."""
        batch = self.sim.create_batch(await read_json(request))
        return json_response(batch.response(), 201)

    async def get_concurrency(self, request: Request) -> Response:
        """GET /get-concurrency."""
        return json_response(self.sim.pool.report())

    # Agents

    async def create_agent(self, request: Request) -> Response:
        """POST /create-agent."""
        return json_response(self.sim.workspace.create_agent(await read_json(request)), 201)

    async def get_agent(self, request: Request) -> Response:
        """GET /get-agent/{agent_id}?version= (the latest when no version is named)."""
        agent = self.sim.workspace.agent_at(
            request.path_params["agent_id"], request.query_params.get("version")
        )
        return json_response(agent)

    async def create_agent_version(self, request: Request) -> Response:
        """POST /create-agent-version/{agent_id}."""
        agent = self.sim.workspace.create_agent_version(
            request.path_params["agent_id"], await read_json(request)
        )
        return json_response(agent, 201)

    async def list_agents(self, request: Request) -> Response:
        """POST /v2/list-agents (paging in the query, filters in the body)."""
        criteria = (await read_json(request)).get("filter_criteria")
        if criteria is not None and not isinstance(criteria, dict):
            raise ApiError(400, "filter_criteria: must be an object")
        return json_response(
            _paged(request, self.sim.workspace.agent_summaries(criteria), "agent_id")
        )

    async def list_agents_legacy(self, request: Request) -> Response:
        """GET /list-agents (bare array of agents)."""
        agents = list(self.sim.workspace.agents.values())
        page, _, _ = page_by_id(
            agents,
            "agent_id",
            limit=_query_int(request, "limit", 1000),
            pagination_key=request.query_params.get("pagination_key"),
            sort_order="ascending",
        )
        return json_response(page)

    async def update_agent(self, request: Request) -> Response:
        """PATCH /update-agent/{agent_id}."""
        agent = self.sim.workspace.update_agent(
            request.path_params["agent_id"], await read_json(request)
        )
        return json_response(agent)

    async def delete_agent(self, request: Request) -> Response:
        """DELETE /delete-agent/{agent_id}."""
        self.sim.workspace.delete_agent(request.path_params["agent_id"])
        return _no_content()

    # Retell LLMs

    async def create_llm(self, request: Request) -> Response:
        """POST /create-retell-llm."""
        return json_response(self.sim.workspace.create_llm(await read_json(request)), 201)

    async def get_llm(self, request: Request) -> Response:
        """GET /get-retell-llm/{llm_id}."""
        return json_response(self.sim.workspace.llm(request.path_params["llm_id"]))

    async def list_llms(self, request: Request) -> Response:
        """GET /v2/list-retell-llms."""
        return json_response(_paged(request, list(self.sim.workspace.llms.values()), "llm_id"))

    async def list_llms_legacy(self, request: Request) -> Response:
        """GET /list-retell-llms (bare array)."""
        return json_response(list(self.sim.workspace.llms.values()))

    async def update_llm(self, request: Request) -> Response:
        """PATCH /update-retell-llm/{llm_id}."""
        llm = self.sim.workspace.update_llm(request.path_params["llm_id"], await read_json(request))
        return json_response(llm)

    async def delete_llm(self, request: Request) -> Response:
        """DELETE /delete-retell-llm/{llm_id} (``force_delete`` in the query)."""
        self.sim.workspace.delete_llm(
            request.path_params["llm_id"], force=_flag(request, "force_delete")
        )
        return _no_content()

    # Phone numbers

    async def create_phone_number(self, request: Request) -> Response:
        """POST /create-phone-number."""
        return json_response(self.sim.workspace.create_number(await read_json(request)), 201)

    async def import_phone_number(self, request: Request) -> Response:
        """POST /import-phone-number."""
        return json_response(self.sim.workspace.import_number(await read_json(request)), 201)

    async def get_phone_number(self, request: Request) -> Response:
        """GET /get-phone-number/{phone_number} (literal ``+`` or ``%2B``)."""
        return json_response(self.sim.workspace.number(request.path_params["phone_number"]))

    async def list_phone_numbers(self, request: Request) -> Response:
        """GET /v2/list-phone-numbers."""
        return json_response(
            _paged(request, list(self.sim.workspace.numbers.values()), "phone_number")
        )

    async def list_phone_numbers_legacy(self, request: Request) -> Response:
        """GET /list-phone-numbers (bare array)."""
        return json_response(list(self.sim.workspace.numbers.values()))

    async def update_phone_number(self, request: Request) -> Response:
        """PATCH /update-phone-number/{phone_number}."""
        number = self.sim.workspace.update_number(
            request.path_params["phone_number"], await read_json(request)
        )
        return json_response(number)

    async def delete_phone_number(self, request: Request) -> Response:
        """DELETE /delete-phone-number/{phone_number}."""
        self.sim.workspace.delete_number(request.path_params["phone_number"])
        return _no_content()

    # Voices

    async def get_voice(self, request: Request) -> Response:
        """GET /get-voice/{voice_id}."""
        return json_response(self.sim.workspace.voice(request.path_params["voice_id"]))

    async def list_voices(self, request: Request) -> Response:
        """GET /list-voices (bare array)."""
        return json_response(list(VOICES))
