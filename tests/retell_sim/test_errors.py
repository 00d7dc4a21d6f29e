"""Auth, status codes and error bodies as Retell documents them."""

from __future__ import annotations

import httpx
import pytest

import retell
from retell import Retell
from retell_sim import DEMO_AGENT_ID, DEMO_FROM_NUMBERS, SimulatorHandle
from tests.retell_sim.conftest import MakeSimulator
from tests.retell_sim.helpers import api_client, create_call

ERROR_UNAUTHORIZED = {"status": "error", "message": "API key is missing or invalid."}
ERROR_NOT_FOUND = {"status": "error", "message": "Cannot find requested asset under given api key."}
OVERRIDE_VERSION_3 = {"override_agent_id": DEMO_AGENT_ID, "override_agent_version": 3}


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "key_simulator_tests"}]
)
def test_missing_or_wrong_key_is_401(sim: SimulatorHandle, headers: dict[str, str]) -> None:
    response = httpx.get(f"{sim.base_url}/get-concurrency", headers=headers)
    assert response.status_code == 401
    assert response.json() == ERROR_UNAUTHORIZED


def test_sdk_raises_authentication_error(sim: SimulatorHandle) -> None:
    with (
        Retell(api_key="not-the-key", base_url=sim.base_url, max_retries=0) as client,
        pytest.raises(retell.AuthenticationError),
    ):
        client.concurrency.retrieve()


@pytest.mark.parametrize(
    "path",
    [
        "/v2/get-call/call_missing",
        "/get-agent/agent_missing",
        "/get-retell-llm/llm_missing",
        "/get-phone-number/+19995550000",
        "/get-voice/no-such-voice",
    ],
)
def test_unknown_ids_are_422(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert response.status_code == 422
    assert response.json() == ERROR_NOT_FOUND


def test_unknown_ids_can_be_404(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(not_found_status=404)
    with (
        Retell(api_key=sim.api_key, base_url=sim.base_url, max_retries=0) as client,
        pytest.raises(retell.NotFoundError),
    ):
        client.call.retrieve("call_missing")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"from_number": DEMO_FROM_NUMBERS[0]}, "to_number: field required"),
        ({"to_number": "+14155551000"}, "from_number: field required"),
        (
            {"from_number": DEMO_FROM_NUMBERS[0], "to_number": "4155551000"},
            "to_number: '4155551000' is not an E.164",
        ),
        (
            {
                "from_number": DEMO_FROM_NUMBERS[0],
                "to_number": "+14155551000",
                "retell_llm_dynamic_variables": {"age": 42},
            },
            "retell_llm_dynamic_variables.age: must be a string, got number",
        ),
        (
            {
                "from_number": DEMO_FROM_NUMBERS[0],
                "to_number": "+14155551000",
                "override_agent_id": 5,
            },
            "override_agent_id: input should be a valid string",
        ),
    ],
)
def test_bad_create_is_400_naming_the_field(
    http: httpx.Client, body: dict[str, object], message: str
) -> None:
    response = http.post("/v2/create-phone-call", json=body)
    assert response.status_code == 400
    assert response.json()["status"] == "error"
    assert response.json()["message"].startswith(message)


UNKNOWN_NUMBER = "+14155557777"
UNBOUND_NUMBER = "+14155557778"
SETUP_REFUSAL = {"status": "error", "message": "Phone number not found or has no outbound agent."}


@pytest.mark.parametrize("from_number", [UNKNOWN_NUMBER, UNBOUND_NUMBER])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/create-phone-call", {"to_number": "+14155551000"}),
        ("/create-batch-call", {"tasks": [{"to_number": "+14155551000"}]}),
    ],
)
def test_a_number_that_cannot_call_is_400_naming_no_field(
    http: httpx.Client, from_number: str, path: str, body: dict[str, object]
) -> None:
    # Retell's message for this setup refusal names no field, unlike its other 400s.
    assert http.post("/create-phone-number", json={"phone_number": UNBOUND_NUMBER}).is_success
    response = http.post(path, json={"from_number": from_number, **body})
    assert response.status_code == 400
    assert response.json() == SETUP_REFUSAL


def test_an_agent_override_lets_a_number_without_agent_call(http: httpx.Client) -> None:
    assert http.post("/create-phone-number", json={"phone_number": UNBOUND_NUMBER}).is_success
    call = http.post(
        "/v2/create-phone-call",
        json={
            "from_number": UNBOUND_NUMBER,
            "to_number": "+14155551000",
            "override_agent_id": DEMO_AGENT_ID,
        },
    )
    assert call.status_code == 201


def test_dynamic_variables_can_be_coerced(make_simulator: MakeSimulator) -> None:
    sim = make_simulator(dynamic_variables="coerce", cps=100)
    with api_client(sim) as http:
        call = create_call(
            http, retell_llm_dynamic_variables={"age": 42, "vip": True, "name": "Ann"}
        )
    assert call["retell_llm_dynamic_variables"] == {"age": "42", "vip": "true", "name": "Ann"}


def test_body_that_is_not_json_is_400(http: httpx.Client) -> None:
    response = http.post(
        "/v2/create-phone-call", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": "Invalid request format, please check API reference.",
    }


def test_deletes_answer_204_with_an_empty_body(http: httpx.Client) -> None:
    call = create_call(http)
    response = http.delete(f"/v2/delete-call/{call['call_id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert http.get(f"/v2/get-call/{call['call_id']}").status_code == 422


def test_unknown_route_and_method_have_retell_error_bodies(http: httpx.Client) -> None:
    missing = http.get("/v2/no-such-endpoint")
    assert missing.status_code == 404
    assert missing.json()["status"] == "error"
    wrong_method = http.get("/v2/create-phone-call")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["status"] == "error"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/create-batch-call"),
        ("GET", "/v2/get-concurrency"),
        ("POST", "/v2/list-calls"),
    ],
)
def test_v2_paths_retell_does_not_serve_are_404(http: httpx.Client, method: str, path: str) -> None:
    # retell-api.md: only /create-batch-call, /get-concurrency and /v3/list-calls exist.
    response = http.request(method, path, json={})
    assert response.status_code == 404
    assert response.json()["status"] == "error"


def test_llm_in_use_cannot_be_deleted_without_force(http: httpx.Client) -> None:
    refused = http.delete("/delete-retell-llm/llm_campaigner_demo")
    assert refused.status_code == 400
    assert "agent_campaigner_demo" in refused.json()["message"]
    assert (
        http.delete(
            "/delete-retell-llm/llm_campaigner_demo", params={"force_delete": "true"}
        ).status_code
        == 204
    )


def test_number_bindings_are_checked(http: httpx.Client) -> None:
    unknown = http.post(
        "/create-phone-number", json={"outbound_agents": [{"agent_id": "agent_x", "weight": 1}]}
    )
    assert unknown.status_code == 400
    assert unknown.json()["message"].startswith("outbound_agents[0].agent_id")
    weights = http.post(
        "/create-phone-number",
        json={"outbound_agents": [{"agent_id": "agent_campaigner_demo", "weight": 0.5}]},
    )
    assert weights.status_code == 400
    assert weights.json()["message"] == "outbound_agents: weights must sum to 1, got 0.5"


def test_agent_needs_engine_and_voice(http: httpx.Client) -> None:
    response = http.post("/create-agent", json={"voice_id": "11labs-Adrian"})
    assert response.status_code == 400
    assert response.json()["message"] == "response_engine: field required"


def test_agent_versions_beyond_the_latest_are_unknown(http: httpx.Client) -> None:
    agent = f"/get-agent/{DEMO_AGENT_ID}"
    assert http.get(agent, params={"version": "1"}).json() == ERROR_NOT_FOUND
    created = http.post(f"/create-agent-version/{DEMO_AGENT_ID}", json={"base_version": 0})
    assert created.status_code == 201
    assert created.json()["version"] == 1
    assert http.get(agent, params={"version": "0"}).json()["version"] == 0
    assert http.get(agent, params={"version": "1"}).json()["version"] == 1
    assert http.get(agent, params={"version": "latest"}).json()["version"] == 1
    for unknown in ("2", "prod"):
        response = http.get(agent, params={"version": unknown})
        assert response.status_code == 422
        assert response.json() == ERROR_NOT_FOUND
    assert (
        http.post(f"/create-agent-version/{DEMO_AGENT_ID}", json={"base_version": 7}).json()
        == ERROR_NOT_FOUND
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/create-phone-call", {"to_number": "+14155551000", **OVERRIDE_VERSION_3}),
        ("/create-batch-call", {"tasks": [{"to_number": "+14155551000", **OVERRIDE_VERSION_3}]}),
    ],
)
def test_an_unknown_override_agent_version_is_refused(
    http: httpx.Client, path: str, body: dict[str, object]
) -> None:
    response = http.post(path, json={"from_number": DEMO_FROM_NUMBERS[0], **body})
    assert response.status_code == 422
    assert response.json() == ERROR_NOT_FOUND


def test_a_known_override_agent_version_is_used(http: httpx.Client) -> None:
    for base in range(3):
        assert http.post(
            f"/create-agent-version/{DEMO_AGENT_ID}", json={"base_version": base}
        ).is_success
    call = create_call(http, **OVERRIDE_VERSION_3)
    assert call["agent_version"] == 3
