"""The workspace's configuration objects: Retell LLMs, agents, phone numbers and voices.

Objects are kept as the dicts the API returns. Requests are checked only where the simulator relies
on a field (response engine, webhooks, post-call analysis, outbound agents); other fields the SDK's
response models know are stored and echoed as sent, and fields they do not know are dropped, so a
response never carries a key the SDK's models lack.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from retell_sim.clock import VirtualClock
from retell_sim.errors import ApiError, not_found, validate_body

__all__ = [
    "AGENT_FIELDS",
    "DEFAULT_WEBHOOK_EVENTS",
    "LLM_FIELDS",
    "VOICES",
    "Workspace",
    "is_e164",
    "page_by_id",
]

DEFAULT_WEBHOOK_EVENTS = ("call_started", "call_ended", "call_analyzed")
# Version tags that name an agent's newest version (retell-api.md §3.1, override_agent_version).
_LATEST_TAGS = frozenset({"latest", "latest_published"})
WebhookEvent = Literal[
    "call_started",
    "call_ended",
    "call_analyzed",
    "transcript_updated",
    "transfer_started",
    "transfer_bridged",
    "transfer_cancelled",
    "transfer_ended",
]

# Settable fields of the SDK's AgentResponse / LlmResponse (retell-sdk 6.2.13).
AGENT_FIELDS = frozenset(
    [
        "agent_name",
        "allow_dtmf_interruption",
        "allow_user_dtmf",
        "ambient_sound",
        "ambient_sound_volume",
        "backchannel_frequency",
        "backchannel_words",
        "begin_message_delay_ms",
        "boosted_keywords",
        "call_screening_option",
        "contact_memory_config",
        "custom_stt_config",
        "data_storage_retention_days",
        "data_storage_setting",
        "denoising_enhancement_level",
        "denoising_mode",
        "enable_backchannel",
        "enable_dnc_detection",
        "enable_dynamic_responsiveness",
        "enable_dynamic_voice_speed",
        "enable_expressive_mode",
        "end_call_after_silence_ms",
        "expressive_emotion_tags",
        "expressive_mode_prompt",
        "fallback_voice_ids",
        "guardrail_config",
        "handbook_config",
        "interruption_sensitivity",
        "is_transfer_agent",
        "ivr_option",
        "language",
        "max_call_duration_ms",
        "opt_in_signed_url",
        "pii_config",
        "post_call_analysis_data",
        "post_call_analysis_model",
        "post_session_tools",
        "pre_session_tools",
        "pronunciation_dictionary",
        "reminder_max_count",
        "reminder_trigger_ms",
        "response_engine",
        "responsiveness",
        "ring_duration_ms",
        "signed_url_expiration_ms",
        "stt_mode",
        "timezone",
        "user_dtmf_options",
        "version_description",
        "version_title",
        "vocab_specialization",
        "voice_id",
        "voice_model",
        "voice_speed",
        "voice_temperature",
        "voicemail_option",
        "volume",
        "webhook_events",
        "webhook_timeout_ms",
        "webhook_url",
    ]
)
LLM_FIELDS = frozenset(
    [
        "backup_model",
        "begin_after_user_silence_ms",
        "begin_message",
        "default_dynamic_variables",
        "general_prompt",
        "general_tools",
        "is_transfer_llm",
        "kb_config",
        "knowledge_base_ids",
        "mcps",
        "model",
        "model_config",
        "model_high_priority",
        "model_temperature",
        "model_ultrafast",
        "s2s_model",
        "start_speaker",
        "starting_state",
        "states",
        "tool_call_strict_mode",
    ]
)
_NUMBER_FIELDS = frozenset(
    [
        "nickname",
        "inbound_agents",
        "outbound_agents",
        "inbound_sms_agents",
        "outbound_sms_agents",
        "inbound_webhook_url",
        "inbound_sms_webhook_url",
        "allowed_inbound_country_list",
        "allowed_outbound_country_list",
        "fallback_number",
    ]
)

VOICES: tuple[dict[str, Any], ...] = (
    {
        "voice_id": "11labs-Adrian",
        "voice_name": "Adrian",
        "provider": "elevenlabs",
        "gender": "male",
        "accent": "American",
        "age": "Young",
    },
    {
        "voice_id": "11labs-Myra",
        "voice_name": "Myra",
        "provider": "elevenlabs",
        "gender": "female",
        "accent": "American",
        "age": "Young",
    },
    {"voice_id": "openai-Alloy", "voice_name": "Alloy", "provider": "openai", "gender": "female"},
    {
        "voice_id": "cartesia-Cleo",
        "voice_name": "Cleo",
        "provider": "cartesia",
        "gender": "female",
        "accent": "American",
        "age": "Middle Aged",
    },
)


def is_e164(number: str) -> bool:
    """True for ``+`` followed by 7 to 15 digits, the first not 0."""
    digits = number[1:]
    return (
        number.startswith("+") and digits.isdigit() and 7 <= len(digits) <= 15 and digits[0] != "0"
    )


def page_by_id(
    items: list[dict[str, Any]],
    id_field: str,
    *,
    limit: int,
    pagination_key: str | None,
    sort_order: str,
) -> tuple[list[dict[str, Any]], bool, str | None]:
    """Page ``items`` (creation order) after the item whose id is ``pagination_key``."""
    ordered = items if sort_order == "ascending" else items[::-1]
    start = 0
    if pagination_key is not None:
        ids = [item[id_field] for item in ordered]
        if pagination_key not in ids:
            raise ApiError(400, f"pagination_key: unknown id {pagination_key!r}")
        start = ids.index(pagination_key) + 1
    page = ordered[start : start + limit]
    has_more = start + limit < len(ordered)
    return page, has_more, (page[-1][id_field] if has_more and page else None)


class ResponseEngine(BaseModel):
    """An agent's response engine."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["retell-llm", "custom-llm", "conversation-flow"]
    llm_id: str | None = None
    llm_websocket_url: str | None = None
    conversation_flow_id: str | None = None
    version: float | None = None

    @model_validator(mode="after")
    def _id_for_type(self) -> ResponseEngine:
        needed = {
            "retell-llm": ("llm_id", self.llm_id),
            "custom-llm": ("llm_websocket_url", self.llm_websocket_url),
            "conversation-flow": ("conversation_flow_id", self.conversation_flow_id),
        }[self.type]
        if needed[1] is None:
            raise ValueError(f"{needed[0]} is required for type {self.type}")
        return self


class AnalysisField(BaseModel):
    """One post_call_analysis_data entry."""

    model_config = ConfigDict(extra="allow")

    name: str
    type: Literal["string", "enum", "boolean", "number", "system-presets"]
    description: str | None = None
    choices: list[str] | None = None

    @model_validator(mode="after")
    def _enum_has_choices(self) -> AnalysisField:
        if self.type == "enum" and not self.choices:
            raise ValueError("an enum field needs choices")
        return self


class AgentBody(BaseModel):
    """The agent fields the simulator reads; the rest pass through."""

    model_config = ConfigDict(extra="allow")

    response_engine: ResponseEngine | None = None
    voice_id: str | None = None
    agent_name: str | None = None
    webhook_url: str | None = None
    webhook_events: list[WebhookEvent] | None = None
    webhook_timeout_ms: int | None = Field(None, ge=1)
    post_call_analysis_data: list[AnalysisField] | None = None
    max_call_duration_ms: int | None = Field(None, ge=60_000, le=7_200_000)
    ring_duration_ms: int | None = Field(None, ge=5_000, le=300_000)


class AgentWeight(BaseModel):
    """An inbound/outbound agent binding of a number."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str
    weight: float = Field(gt=0, le=1)
    agent_version: int | str | None = None


class NumberBody(BaseModel):
    """Phone number fields the simulator reads; the rest pass through."""

    model_config = ConfigDict(extra="allow")

    phone_number: str | None = None
    area_code: int | None = Field(None, ge=200, le=999)
    country_code: Literal["US", "CA"] = "US"
    toll_free: bool = False
    number_provider: Literal["twilio", "telnyx"] = "twilio"
    inbound_agents: list[AgentWeight] | None = None
    outbound_agents: list[AgentWeight] | None = None
    termination_uri: str | None = None
    sip_trunk_auth_username: str | None = None
    auth_username: str | None = None
    codecs: list[str] | None = None
    transport: str | None = None


class Workspace:
    """Retell LLMs, agents, phone numbers and voices of the simulated workspace."""

    def __init__(self, clock: VirtualClock, *, not_found_status: int, seed: int) -> None:
        self._clock = clock
        self._not_found_status = not_found_status
        self._rng = random.Random(f"numbers:{seed}")
        self.llms: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, dict[str, Any]] = {}
        self.numbers: dict[str, dict[str, Any]] = {}

    def _lookup(self, table: Mapping[str, dict[str, Any]], key: str) -> dict[str, Any]:
        found = table.get(key)
        if found is None:
            raise not_found(self._not_found_status)
        return found

    # Retell LLMs

    def create_llm(self, raw: Mapping[str, Any], llm_id: str | None = None) -> dict[str, Any]:
        """Store a new Retell LLM."""
        llm: dict[str, Any] = {
            "llm_id": llm_id or f"llm_{secrets.token_hex(14)}",
            "version": 0,
            "is_published": False,
            "last_modification_timestamp": self._clock.now_ms(),
        }
        llm.update(_known(raw, LLM_FIELDS))
        self.llms[llm["llm_id"]] = llm
        return llm

    def llm(self, llm_id: str) -> dict[str, Any]:
        """The LLM with ``llm_id``."""
        return self._lookup(self.llms, llm_id)

    def update_llm(self, llm_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Change an LLM's fields."""
        llm = self.llm(llm_id)
        llm.update(_known(raw, LLM_FIELDS))
        llm["last_modification_timestamp"] = self._clock.now_ms()
        return llm

    def delete_llm(self, llm_id: str, *, force: bool) -> None:
        """Delete an LLM; refused (400) while an agent uses it unless ``force``."""
        self.llm(llm_id)
        users = [
            a["agent_id"]
            for a in self.agents.values()
            if a["response_engine"].get("llm_id") == llm_id
        ]
        if users and not force:
            raise ApiError(
                400, f"Retell LLM {llm_id} is used by agent(s) {', '.join(users)}; set force_delete"
            )
        del self.llms[llm_id]

    # Agents

    def create_agent(self, raw: Mapping[str, Any], agent_id: str | None = None) -> dict[str, Any]:
        """Store a new agent (response_engine and voice_id required)."""
        body = validate_body(AgentBody, raw)
        for name in ("response_engine", "voice_id"):
            if getattr(body, name) is None:
                raise ApiError(400, f"{name}: field required")
        self._check_engine(body)
        agent: dict[str, Any] = {
            "agent_id": agent_id or f"agent_{secrets.token_hex(14)}",
            "version": 0,
            "is_published": False,
            "last_modification_timestamp": self._clock.now_ms(),
            "language": "en-US",
            "max_call_duration_ms": 3_600_000,
            "ring_duration_ms": 30_000,
            "webhook_timeout_ms": 10_000,
        }
        agent.update(_known(raw, AGENT_FIELDS))
        self.agents[agent["agent_id"]] = agent
        return agent

    def _check_engine(self, body: AgentBody) -> None:
        engine = body.response_engine
        if engine is not None and engine.type == "retell-llm" and engine.llm_id not in self.llms:
            raise ApiError(
                400, f"response_engine.llm_id: no Retell LLM {engine.llm_id!r} in this workspace"
            )

    def agent(self, agent_id: str) -> dict[str, Any]:
        """The agent with ``agent_id``."""
        return self._lookup(self.agents, agent_id)

    def agent_version(self, agent: Mapping[str, Any], requested: int | str | None) -> int:
        """The version of ``agent`` that ``requested`` names: a number from 0 to the latest, a
        number as text (a query parameter), or the ``latest`` / ``latest_published`` tag; None is
        the latest. Any other version is unknown, answered as an unknown id is (422, or 404), the
        status Retell documents for assets it cannot find; the simulator keeps no other tags."""
        latest = int(agent["version"])
        if requested is None or requested in _LATEST_TAGS:
            return latest
        if isinstance(requested, str) and requested.isdigit():
            requested = int(requested)
        if (
            isinstance(requested, int)
            and not isinstance(requested, bool)
            and 0 <= requested <= latest
        ):
            return requested
        raise not_found(self._not_found_status)

    def agent_at(self, agent_id: str, version: str | None) -> dict[str, Any]:
        """GET /get-agent: the agent as of ``version`` (the simulator keeps one configuration
        for all versions; only the number differs)."""
        agent = self.agent(agent_id)
        return {**agent, "version": self.agent_version(agent, version)}

    def create_agent_version(self, agent_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """POST /create-agent-version: a new draft version after the latest, from
        ``base_version`` (which must exist)."""
        agent = self.agent(agent_id)
        base = raw.get("base_version")
        if not isinstance(base, int) or isinstance(base, bool):
            raise ApiError(400, "base_version: must be an integer")
        self.agent_version(agent, base)
        agent["version"] = int(agent["version"]) + 1
        agent["last_modification_timestamp"] = self._clock.now_ms()
        return agent

    def update_agent(self, agent_id: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Change an agent's fields (the draft version is edited in place)."""
        agent = self.agent(agent_id)
        self._check_engine(validate_body(AgentBody, raw))
        agent.update(_known(raw, AGENT_FIELDS))
        agent["last_modification_timestamp"] = self._clock.now_ms()
        return agent

    def delete_agent(self, agent_id: str) -> None:
        """Delete an agent."""
        self.agent(agent_id)
        del self.agents[agent_id]

    def agent_summaries(self, criteria: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """The v2 list-agents items that match ``criteria`` (channel, is_transfer_agent, query)."""
        criteria = criteria or {}
        unknown = set(criteria) - {"channel", "is_transfer_agent", "query"}
        if unknown:
            raise ApiError(400, f"filter_criteria.{sorted(unknown)[0]}: unknown filter key")
        tests: list[Callable[[dict[str, Any]], bool]] = []
        if "channel" in criteria:
            channel = criteria["channel"]
            if not isinstance(channel, dict) or channel.get("value") not in ("voice", "chat"):
                raise ApiError(400, "filter_criteria.channel: value must be voice or chat")
            wanted = channel["value"] == "voice"
            tests.append(lambda _agent: wanted if channel.get("op", "eq") == "eq" else not wanted)
        if "is_transfer_agent" in criteria:
            flag = criteria["is_transfer_agent"]
            if not isinstance(flag, dict) or not isinstance(flag.get("value"), bool):
                raise ApiError(
                    400, "filter_criteria.is_transfer_agent: value must be true or false"
                )
            tests.append(lambda agent: bool(agent.get("is_transfer_agent")) is flag["value"])
        if "query" in criteria:
            text = str(criteria["query"]).lower()
            tests.append(
                lambda agent: (
                    text in str(agent.get("agent_name") or "").lower() or text in agent["agent_id"]
                )
            )
        return [
            _agent_summary(agent) for agent in self.agents.values() if all(t(agent) for t in tests)
        ]

    # Phone numbers

    def create_number(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Buy a number: the one asked for, or a fresh one in the area code."""
        body = validate_body(NumberBody, raw)
        number = body.phone_number or self._fresh_number(body)
        kind = "retell-telnyx" if body.number_provider == "telnyx" else "retell-twilio"
        return self._store_number(number, kind, body, raw)

    def import_number(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Import a custom-telephony number (phone_number and termination_uri required)."""
        body = validate_body(NumberBody, raw)
        for name in ("phone_number", "termination_uri"):
            if getattr(body, name) is None:
                raise ApiError(400, f"{name}: field required")
        number = self._store_number(str(body.phone_number), "custom", body, raw)
        number["sip_outbound_trunk_config"] = _trunk_config(body, {})
        return number

    def _fresh_number(self, body: NumberBody) -> str:
        area = body.area_code or (800 if body.toll_free else 415)
        for _ in range(10_000):
            candidate = f"+1{area}555{self._rng.randrange(10_000):04d}"
            if candidate not in self.numbers:
                return candidate
        raise ApiError(400, f"area_code: no free number left in area code {area}")

    def _store_number(
        self, number: str, kind: str, body: NumberBody, raw: Mapping[str, Any]
    ) -> dict[str, Any]:
        if not is_e164(number) and not raw.get("ignore_e164_validation"):
            raise ApiError(400, f"phone_number: {number!r} is not an E.164 number")
        if number in self.numbers:
            raise ApiError(400, f"phone_number: {number} already exists in this workspace")
        self._check_bindings(body)
        record: dict[str, Any] = {
            "phone_number": number,
            "phone_number_type": kind,
            "last_modification_timestamp": self._clock.now_ms(),
            "phone_number_pretty": _pretty(number),
        }
        if number.startswith("+1") and len(number) == 12:
            record["area_code"] = int(number[2:5])
        record.update(_known(raw, _NUMBER_FIELDS))
        self.numbers[number] = record
        return record

    def _check_bindings(self, body: NumberBody) -> None:
        for name in ("inbound_agents", "outbound_agents"):
            bindings: list[AgentWeight] | None = getattr(body, name)
            if not bindings:
                continue
            for index, binding in enumerate(bindings):
                if binding.agent_id not in self.agents:
                    raise ApiError(
                        400,
                        f"{name}[{index}].agent_id: no agent {binding.agent_id!r} here",
                    )
            total = sum(binding.weight for binding in bindings)
            if abs(total - 1.0) > 1e-6:
                raise ApiError(400, f"{name}: weights must sum to 1, got {total:g}")

    def number(self, phone_number: str) -> dict[str, Any]:
        """The number ``phone_number`` (E.164)."""
        return self._lookup(self.numbers, phone_number)

    def update_number(self, phone_number: str, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Change a number's bindings and settings."""
        record = self.number(phone_number)
        body = validate_body(NumberBody, raw)
        self._check_bindings(body)
        record.update(_known(raw, _NUMBER_FIELDS))
        if "sip_outbound_trunk_config" in record:
            record["sip_outbound_trunk_config"] = _trunk_config(
                body, record["sip_outbound_trunk_config"]
            )
        record["last_modification_timestamp"] = self._clock.now_ms()
        return record

    def delete_number(self, phone_number: str) -> None:
        """Release a number."""
        self.number(phone_number)
        del self.numbers[phone_number]

    # Voices

    def voice(self, voice_id: str) -> dict[str, Any]:
        """The voice ``voice_id``."""
        for voice in VOICES:
            if voice["voice_id"] == voice_id:
                return voice
        raise not_found(self._not_found_status)


def _known(raw: Mapping[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    return {key: value for key, value in raw.items() if key in fields}


def _agent_summary(agent: Mapping[str, Any]) -> dict[str, Any]:
    summary = {
        "agent_id": agent["agent_id"],
        "agent_name": agent.get("agent_name") or "",
        "channel": "voice",
        "is_suspended": False,
        "tags": {},
        "user_modified_timestamp": agent["last_modification_timestamp"],
    }
    if "is_transfer_agent" in agent:
        summary["is_transfer_agent"] = bool(agent["is_transfer_agent"])
    return summary


def _trunk_config(body: NumberBody, current: Mapping[str, Any]) -> dict[str, Any]:
    config = dict(current)
    updates = {
        "termination_uri": body.termination_uri,
        "auth_username": body.sip_trunk_auth_username or body.auth_username,
        "codecs": body.codecs,
        "transport": body.transport,
    }
    config.update((key, value) for key, value in updates.items() if value is not None)
    return config


def _pretty(number: str) -> str:
    if number.startswith("+1") and len(number) == 12:
        return f"+1 ({number[2:5]}) {number[5:8]}-{number[8:]}"
    return number
