"""Every endpoint through the official SDK, every response held against the SDK's own models."""

from __future__ import annotations

from typing import Any

import httpx
import pydantic
from retell.types import (
    AgentResponse,
    BatchCallResponse,
    CallListResponse,
    ConcurrencyRetrieveResponse,
    LlmResponse,
    PhoneCallResponse,
    PhoneNumberResponse,
    VoiceResponse,
    WebCallResponse,
)
from retell.types.agent_list_response import AgentListResponse
from retell.types.create_web_call_response import CreateWebCallResponse
from retell.types.llm_list_response import LlmListResponse
from retell.types.phone_number_list_response import PhoneNumberListResponse

from retell import AsyncRetell, Retell
from retell_sim import (
    DEMO_AGENT_B_ID,
    DEMO_AGENT_ID,
    DEMO_FROM_NUMBERS,
    DEMO_LLM_ID,
    SimulatorConfig,
    SimulatorHandle,
    serve_simulator,
)
from tests.retell_sim.helpers import assert_model, force

ListOfAgents = pydantic.RootModel[list[AgentResponse]]
ListOfLlms = pydantic.RootModel[list[LlmResponse]]
ListOfNumbers = pydantic.RootModel[list[PhoneNumberResponse]]
ListOfVoices = pydantic.RootModel[list[VoiceResponse]]


def _checked(raw: Any, status: int, model: type[pydantic.BaseModel]) -> dict[str, Any]:
    response: httpx.Response = raw.http_response
    assert response.status_code == status, response.text
    data = response.json()
    assert_model(model, data)
    return data  # type: ignore[no-any-return]


def _assert_list(model: type[pydantic.RootModel[Any]], data: Any) -> None:
    parsed = model.model_validate(data)
    for index, item in enumerate(parsed.root):
        assert_model(type(item), data[index])


def test_phone_call_lifecycle_matches_sdk_models(
    sim: SimulatorHandle, client: Retell, http: httpx.Client
) -> None:
    force(http, "+14155552000", "agent_hangup", call_successful=True)
    created = _checked(
        client.call.with_raw_response.create_phone_call(
            from_number=DEMO_FROM_NUMBERS[0],
            to_number="+14155552000",
            metadata={"campaign": "contract", "contact": 7},
            retell_llm_dynamic_variables={"first_name": "Maria", "appointment_date": "May 3"},
            custom_sip_headers={"X-Campaign": "contract"},
        ),
        201,
        PhoneCallResponse,
    )
    assert created["call_status"] == "registered"
    assert created["direction"] == "outbound"
    assert created["call_type"] == "phone_call"
    assert created["agent_id"] == DEMO_AGENT_ID
    assert created["metadata"] == {"campaign": "contract", "contact": 7}
    assert "batch_call_id" not in created

    sim.advance(3600)
    full = _checked(
        client.call.with_raw_response.retrieve(created["call_id"]), 200, PhoneCallResponse
    )
    assert full["call_status"] == "ended"
    assert full["transcript_object"]
    assert full["transcript"].startswith("Agent: Hi Maria")
    assert full["call_analysis"]["call_successful"] is True
    assert set(full["call_analysis"]["custom_analysis_data"]) == {
        "appointment_confirmed",
        "reschedule_requested",
        "preferred_callback_time",
        "interest_level",
    }
    assert set(full["latency"]) == {"e2e", "llm", "tts", "asr"}

    listed = _checked(
        client.call.with_raw_response.list(
            filter_criteria={
                "metadata": [{"key": "campaign", "type": "string", "op": "eq", "value": "contract"}]
            },
            include_total=True,
        ),
        200,
        CallListResponse,
    )
    assert listed["total"] == 1
    assert listed["has_more"] is False
    assert "transcript" not in listed["items"][0]

    updated = _checked(
        client.call.with_raw_response.update(
            created["call_id"],
            metadata={"campaign": "contract", "note": "x"},
            data_storage_setting="everything",
        ),
        200,
        PhoneCallResponse,
    )
    assert updated["metadata"] == {"campaign": "contract", "note": "x"}

    deleted = client.call.with_raw_response.delete(created["call_id"])
    assert deleted.http_response.status_code == 204
    assert deleted.http_response.content == b""


def test_stop_call_ends_a_live_call(sim: SimulatorHandle, client: Retell) -> None:
    call = client.call.create_phone_call(from_number=DEMO_FROM_NUMBERS[0], to_number="+14155552001")
    stopped = client.call.with_raw_response.stop(call.call_id)
    assert stopped.http_response.status_code == 204
    sim.advance(10)
    ended = _checked(client.call.with_raw_response.retrieve(call.call_id), 200, PhoneCallResponse)
    assert ended["disconnection_reason"] == "manual_stopped"


def test_web_calls_current_and_legacy(
    sim: SimulatorHandle, client: Retell, http: httpx.Client
) -> None:
    connection = _checked(
        client.call.with_raw_response.create_web_call(agent_id=DEMO_AGENT_ID, metadata={"k": "v"}),
        201,
        CreateWebCallResponse,
    )
    web = _checked(
        client.call.with_raw_response.retrieve(connection["call_id"]), 200, WebCallResponse
    )
    assert web["call_type"] == "web_call"
    assert web["access_token"] == connection["access_token"]

    legacy = http.post("/v2/create-web-call", json={"agent_id": DEMO_AGENT_B_ID})
    assert legacy.status_code == 201
    assert_model(WebCallResponse, legacy.json())

    sim.advance(60)
    abandoned = _checked(
        client.call.with_raw_response.retrieve(connection["call_id"]), 200, WebCallResponse
    )
    assert abandoned["call_status"] == "error"
    assert abandoned["disconnection_reason"] == "error_user_not_joined"


def test_batch_call_and_concurrency(client: Retell, http: httpx.Client) -> None:
    batch = _checked(
        client.batch_call.with_raw_response.create_batch_call(
            from_number=DEMO_FROM_NUMBERS[0],
            name="contract batch",
            tasks=[{"to_number": "+14155552100", "metadata": {"task": 1}}],
            call_time_window={
                "windows": [{"start": 0, "end": 1440}],
                "timezone": "America/New_York",
            },
        ),
        201,
        BatchCallResponse,
    )
    assert batch["batch_call_id"].startswith("batch_call_")
    assert batch["total_task_count"] == 1
    assert batch["call_time_window"]["timezone"] == "America/New_York"

    concurrency = _checked(
        client.concurrency.with_raw_response.retrieve(), 200, ConcurrencyRetrieveResponse
    )
    assert set(concurrency) == set(ConcurrencyRetrieveResponse.model_fields)


def test_agents(client: Retell, http: httpx.Client) -> None:
    created = _checked(
        client.agent.with_raw_response.create(
            response_engine={"type": "retell-llm", "llm_id": DEMO_LLM_ID},
            voice_id="11labs-Adrian",
            agent_name="Contract agent",
            webhook_url="http://127.0.0.1:9/hook",
            post_call_analysis_data=[
                {"type": "number", "name": "score", "description": "how keen"},
            ],
        ),
        201,
        AgentResponse,
    )
    agent_id = created["agent_id"]
    _checked(client.agent.with_raw_response.retrieve(agent_id), 200, AgentResponse)
    updated = _checked(
        client.agent.with_raw_response.update(agent_id, agent_name="Renamed"), 200, AgentResponse
    )
    assert updated["agent_name"] == "Renamed"
    versioned = _checked(
        client.agent.with_raw_response.create_version(agent_id, base_version=0), 201, AgentResponse
    )
    assert versioned["version"] == 1
    retrieved = client.agent.retrieve(agent_id, version=1)
    assert retrieved.version == 1

    page = _checked(client.agent.with_raw_response.list(limit=2), 200, AgentListResponse)
    assert len(page["items"]) == 2
    assert page["has_more"] is True
    rest = _checked(
        client.agent.with_raw_response.list(limit=2, pagination_key=page["pagination_key"]),
        200,
        AgentListResponse,
    )
    assert {item["agent_id"] for item in page["items"] + rest["items"]} == {
        agent_id,
        DEMO_AGENT_ID,
        DEMO_AGENT_B_ID,
    }

    legacy = http.get("/list-agents")
    assert legacy.status_code == 200
    _assert_list(ListOfAgents, legacy.json())

    assert client.agent.with_raw_response.delete(agent_id).http_response.status_code == 204


def test_retell_llms(client: Retell, http: httpx.Client) -> None:
    created = _checked(
        client.llm.with_raw_response.create(
            general_prompt="Be brief.", begin_message="Hello {{name}}"
        ),
        201,
        LlmResponse,
    )
    llm_id = created["llm_id"]
    _checked(client.llm.with_raw_response.retrieve(llm_id), 200, LlmResponse)
    updated = _checked(
        client.llm.with_raw_response.update(llm_id, general_prompt="Be kind."), 200, LlmResponse
    )
    assert updated["general_prompt"] == "Be kind."
    listed = _checked(client.llm.with_raw_response.list(), 200, LlmListResponse)
    assert llm_id in {item["llm_id"] for item in listed["items"]}
    legacy = http.get("/list-retell-llms")
    _assert_list(ListOfLlms, legacy.json())
    assert client.llm.with_raw_response.delete(llm_id).http_response.status_code == 204


def test_phone_numbers(client: Retell, http: httpx.Client) -> None:
    bought = _checked(
        client.phone_number.with_raw_response.create(
            area_code=628,
            nickname="bought",
            outbound_agents=[{"agent_id": DEMO_AGENT_B_ID, "weight": 1}],
        ),
        201,
        PhoneNumberResponse,
    )
    number = bought["phone_number"]
    assert number.startswith("+1628")
    assert bought["phone_number_type"] == "retell-twilio"

    imported = _checked(
        client.phone_number.with_raw_response.import_(
            phone_number="+14155559999",
            termination_uri="sim.pstn.twilio.com",
            sip_trunk_auth_username="u",
        ),
        201,
        PhoneNumberResponse,
    )
    assert imported["phone_number_type"] == "custom"

    # The SDK sends a literal "+"; a percent-encoded one must work too.
    _checked(client.phone_number.with_raw_response.retrieve(number), 200, PhoneNumberResponse)
    encoded = http.get(f"/get-phone-number/%2B{number[1:]}")
    assert encoded.status_code == 200
    assert encoded.json()["phone_number"] == number

    updated = _checked(
        client.phone_number.with_raw_response.update(number, nickname="renamed"),
        200,
        PhoneNumberResponse,
    )
    assert updated["nickname"] == "renamed"
    listed = _checked(client.phone_number.with_raw_response.list(), 200, PhoneNumberListResponse)
    assert number in {item["phone_number"] for item in listed["items"]}
    _assert_list(ListOfNumbers, http.get("/list-phone-numbers").json())
    assert client.phone_number.with_raw_response.delete(number).http_response.status_code == 204


def test_voices(client: Retell) -> None:
    voice = _checked(client.voice.with_raw_response.retrieve("11labs-Adrian"), 200, VoiceResponse)
    assert voice["voice_id"] == "11labs-Adrian"
    raw = client.voice.with_raw_response.list()
    _assert_list(ListOfVoices, raw.http_response.json())


async def test_async_sdk_against_serve_simulator() -> None:
    config = SimulatorConfig(speed=0, api_key="key_async", cps=100)
    async with (
        serve_simulator(config) as sim,
        AsyncRetell(api_key=sim.api_key, base_url=sim.base_url, max_retries=0) as client,
    ):
        call = await client.call.create_phone_call(
            from_number=DEMO_FROM_NUMBERS[1], to_number="+14155552222"
        )
        sim.advance(3600)
        done = await client.call.retrieve(call.call_id)
        assert isinstance(done, PhoneCallResponse)
        assert done.call_status in ("ended", "not_connected")
