"""The simulated Retell workspace: calls, their lifecycles, limits, batches and webhooks.

`Simulator` is the state behind the HTTP API; handlers translate requests into its methods. A call
is created ``registered`` holding a concurrency slot, waits for its dial start (CPS), rings, and
either connects (``ongoing``, then ``ended``) or fails (``not_connected`` / ``error``); a few
virtual seconds after it ends its ``call_analysis`` arrives. Each step is a scheduler callback
guarded by the call's ``phase``, so stopping or deleting a call cancels its pending steps without
touching the heap.

Calls that never connected end with ``start_timestamp == end_timestamp`` (the moment the dial
failed) and ``duration_ms == 0``, so every terminal call has an end timestamp to sync on, unless
``batch_failure_timestamps`` drops them from batch calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import random
import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict

from retell_sim.batches import BatchBody, BatchCallWindow, BatchRunner, SimulatedBatch, TaskBody
from retell_sim.callstore import CallStore
from retell_sim.clock import VirtualClock
from retell_sim.config import SimulatorConfig
from retell_sim.content import (
    build_analysis,
    build_cost,
    build_latency,
    build_transcript,
    not_connected_analysis,
)
from retell_sim.demo import DEMO_SUCCESS_RATES, seed_demo_workspace
from retell_sim.errors import MESSAGE_RATE_LIMITED, ApiError, not_found, validate_body
from retell_sim.faults import FaultInjector, parse_faults
from retell_sim.limits import ConcurrencyPool, DialPacer, RateLimiter
from retell_sim.outcomes import (
    ForcedOutcome,
    Outcome,
    draw_outcome,
    forced_outcome,
    status_for_reason,
)
from retell_sim.records import CallRecord
from retell_sim.scheduler import Scheduler, SchedulerLag
from retell_sim.stats import RequestStats
from retell_sim.webhooks import WebhookDispatcher, WebhookStats
from retell_sim.workspace import DEFAULT_WEBHOOK_EVENTS, Workspace, is_e164

__all__ = ["CreatePhoneCallBody", "CreateWebCallBody", "Simulator", "UpdateCallBody"]

MESSAGE_CONCURRENCY = "Concurrency limit reached, please try again later."
# Retell answers a from_number outside the workspace, or one without an outbound agent, with a 400
# whose message names no field (retell-api.md, "What real Retell does"; Retell's community forum,
# community.retellai.com/t/804, gives both causes for one 400). Its exact wording is not published,
# so this one is ours; it must not start with a field name, or a client could tell us apart.
MESSAGE_NO_OUTBOUND_AGENT = "Phone number not found or has no outbound agent."
WEB_CALL_JOIN_TIMEOUT_MS = 30_000
_WEB_CALL_ABANDONED = Outcome(
    "error_user_not_joined", WEB_CALL_JOIN_TIMEOUT_MS, 0, False, "Unknown"
)
_STORAGE_STRICTNESS = ("everything", "everything_except_pii", "basic_attributes_only")
# What create-phone-call answers once the credit has run out. Retell documents 402 on calling
# endpoints with "Trial has ended, please add payment method." (retell-api.md §8.1), the message for
# an account without valid payment; its message for spent credit is not published, so that is ours.
PAYMENT_REQUIRED_MESSAGES = {
    "no_valid_payment": "Trial has ended, please add payment method.",
    "credit_exhausted": "Insufficient credit, please add credit to your account.",
}


class CreatePhoneCallBody(BaseModel):
    """POST /v2/create-phone-call body."""

    model_config = ConfigDict(extra="ignore")

    from_number: str
    to_number: str
    override_agent_id: str | None = None
    override_agent_version: int | str | None = None
    agent_override: dict[str, Any] | None = None
    metadata: Any = None
    retell_llm_dynamic_variables: dict[str, Any] | None = None
    custom_sip_headers: dict[str, str] | None = None
    idempotency_key: str | None = None
    honor_internal_dnc: bool = False
    ignore_e164_validation: bool = False


class CreateWebCallBody(BaseModel):
    """POST /v3/create-web-call body."""

    model_config = ConfigDict(extra="ignore")

    agent_id: str
    agent_version: int | str | None = None
    agent_override: dict[str, Any] | None = None
    metadata: Any = None
    retell_llm_dynamic_variables: dict[str, Any] | None = None
    current_node_id: str | None = None
    current_state: str | None = None


class UpdateCallBody(BaseModel):
    """PATCH /v2/update-call body."""

    model_config = ConfigDict(extra="ignore")

    metadata: Any = None
    data_storage_setting: (
        Literal["everything", "everything_except_pii", "basic_attributes_only"] | None
    ) = None
    custom_attributes: dict[str, str | float | bool] | None = None


@dataclass(frozen=True)
class _IdempotentCreate:
    call_id: str
    created_ms: int
    fingerprint: bytes


@dataclass(frozen=True)
class _NewCall:
    """What a create (single or batch task) asks for, after validation."""

    from_number: str
    to_number: str
    agent: dict[str, Any]
    agent_version: int
    metadata: Any
    variables: dict[str, str] | None
    sip_headers: dict[str, str] | None
    batch_call_id: str | None = None


def _on_dnc_list(field: str, number: str) -> ApiError:
    """The 400 refusing a create to a number on the workspace's internal do-not-call list."""
    return ApiError(400, f"{field}: {number} is on the internal do-not-call list")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


class Simulator:
    """A simulated Retell workspace on a virtual clock."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.api_key = config.api_key.get_secret_value()
        self.clock = VirtualClock(speed=config.speed, start_ms=config.start_ms)
        self.scheduler = Scheduler(self.clock)
        self.workspace = self._initial_workspace()
        self.calls = CallStore()
        self.pool = ConcurrencyPool(
            self.clock,
            limit=config.concurrency_limit,
            reserved_inbound=config.reserved_inbound_concurrency,
            burst_enabled=config.concurrency_burst_enabled,
        )
        self.pacer = DialPacer(config.cps)
        self.rate_limiter = RateLimiter(config.rate_limit)
        self.faults = FaultInjector(parse_faults(config.faults), config.seed)
        self.webhooks = WebhookDispatcher(
            api_key=config.webhook_key,
            retries=config.webhook_retries,
            backoff_s=config.webhook_retry_backoff_s,
        )
        self.batches = BatchRunner(
            clock=self.clock,
            scheduler=self.scheduler,
            pool=self.pool,
            pacer=self.pacer,
            place=self._place_batch_call,
        )
        self.stats = RequestStats()
        self.dnc: set[str] = set()
        self.forced: dict[str, ForcedOutcome] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._idempotency: dict[str, _IdempotentCreate] = {}
        self._next_seq = 1
        self._calls_billed = 0
        self._credit_spent = False
        # The account's faults as configured, until `repair_account` (a test's "after the fix").
        self._credit_calls = config.credit_calls
        self._trunk_failure = config.trunk_failure
        self._success_rates = dict(config.outcomes.success_rate_by_agent)
        if not config.empty:
            self._success_rates = {**DEMO_SUCCESS_RATES, **self._success_rates}

    def _initial_workspace(self) -> Workspace:
        workspace = Workspace(
            self.clock, not_found_status=self.config.not_found_status, seed=self.config.seed
        )
        if not self.config.empty:
            seed_demo_workspace(workspace)
        return workspace

    # Running

    async def start(self) -> None:
        """Start the scheduler and the webhook client on the running loop."""
        self.loop = asyncio.get_running_loop()
        await self.webhooks.start()
        self.scheduler.start()

    async def stop(self) -> None:
        """Stop the scheduler and webhook deliveries."""
        await self.scheduler.stop()
        await self.webhooks.stop()

    def reset(self, *, workspace: bool = False) -> None:
        """Forget every call, batch, idempotency key, forced outcome, DNC entry, counter and
        spent credit, and put the fault spec back to the configured one. The workspace (LLMs,
        agents, numbers) is kept unless ``workspace`` asks for the one the simulator started
        with."""
        if workspace:
            self.workspace = self._initial_workspace()
        self.faults.set_spec(parse_faults(self.config.faults))
        self.rate_limiter.clear()
        self.scheduler.clear()
        self.calls.clear()
        self.pool.reset()
        self.pacer.reset()
        self.batches.clear()
        self._idempotency.clear()
        self.forced.clear()
        self.dnc.clear()
        self._calls_billed = 0
        self._credit_spent = False
        self._credit_calls = self.config.credit_calls
        self._trunk_failure = self.config.trunk_failure
        self.stats = RequestStats()
        self.webhooks.stats = WebhookStats()
        self.scheduler.lag = SchedulerLag()

    # Calls: create

    def create_phone_call(
        self, raw: dict[str, Any], *, refuse_for_capacity: bool = False
    ) -> CallRecord:
        """Create an outbound call (201) or raise the error Retell would answer with;
        `refuse_for_capacity` answers as if the workspace were full."""
        request = validate_body(CreatePhoneCallBody, raw)
        now = self.clock.now_ms()
        if request.idempotency_key is not None:
            replay = self._idempotent_replay(request.idempotency_key, raw, now)
            if replay is not None:
                return replay
        self._check_numbers(request.from_number, request.to_number, request.ignore_e164_validation)
        number = self._outbound_number(
            request.from_number, need_agents=request.override_agent_id is None
        )
        agent, version = self._pick_agent(
            number, request.override_agent_id, request.override_agent_version
        )
        if request.honor_internal_dnc and request.to_number in self.dnc:
            raise _on_dnc_list("to_number", request.to_number)
        new = _NewCall(
            from_number=request.from_number,
            to_number=request.to_number,
            agent=agent,
            agent_version=version,
            metadata=request.metadata if "metadata" in request.model_fields_set else None,
            variables=self._variables(
                request.retell_llm_dynamic_variables, "retell_llm_dynamic_variables"
            ),
            sip_headers=request.custom_sip_headers,
        )
        if self._out_of_credit():
            raise self._payment_required()
        wait = self.pacer.wait_ms(now)
        if wait > 0 and self.config.cps_exceeded == "429":
            raise self._too_many("cps", self.clock.real_seconds(wait), MESSAGE_RATE_LIMITED)
        if refuse_for_capacity or not self.pool.has_room():
            if self.config.concurrency_exhausted == "429":
                raise self._too_many("concurrency", 1.0, MESSAGE_CONCURRENCY)
            call = self._fail_at_once(new, now, "concurrency_limit_reached")
        else:
            self._calls_billed += 1
            call = self._record(new, now)
            self.pool.acquire(call)
            self._schedule_dial(call, self.pacer.take(now))
        if request.idempotency_key is not None:
            self._idempotency[request.idempotency_key] = _IdempotentCreate(
                call.call_id, now, _fingerprint(raw)
            )
        return call

    def create_web_call(self, raw: dict[str, Any]) -> CallRecord:
        """Create a web call. Nobody joins a simulated web call: it errors with
        ``error_user_not_joined`` after 30 virtual seconds and never holds a slot."""
        request = validate_body(CreateWebCallBody, raw)
        agent = self.workspace.agent(request.agent_id)
        now = self.clock.now_ms()
        call = CallRecord(
            seq=self._take_seq(),
            call_id=f"call_{secrets.token_hex(14)[:27]}",
            call_type="web_call",
            agent_id=agent["agent_id"],
            agent_version=self.workspace.agent_version(agent, request.agent_version),
            agent_name=agent.get("agent_name"),
            from_number=None,
            to_number=None,
            created_ms=now,
            outcome=_WEB_CALL_ABANDONED,
            metadata=request.metadata if "metadata" in request.model_fields_set else None,
            dynamic_variables=self._variables(
                request.retell_llm_dynamic_variables, "retell_llm_dynamic_variables"
            ),
            access_token=secrets.token_urlsafe(24),
        )
        self.calls.add(call)
        self.stats.calls_created += 1
        self._at(call, now + WEB_CALL_JOIN_TIMEOUT_MS, self._fail)
        return call

    def web_call_connection(self, call: CallRecord) -> dict[str, Any]:
        """The /v3/create-web-call response for ``call``."""
        return {
            "call_id": call.call_id,
            "access_token": call.access_token,
            "expires_at": call.created_ms + WEB_CALL_JOIN_TIMEOUT_MS,
            "ice_servers": [{"urls": ["stun:stun.retell-simulator.invalid:3478"]}],
            "transport": "gateway",
        }

    def create_batch(self, raw: dict[str, Any]) -> SimulatedBatch:
        """Validate and submit a batch; its tasks dial later, server-side."""
        request = validate_body(BatchBody, raw)
        self._check_numbers(request.from_number, None, False)
        self._outbound_number(
            request.from_number,
            need_agents=any(task.override_agent_id is None for task in request.tasks),
        )
        now = self.clock.now_ms()
        for index, task in enumerate(request.tasks):
            path = f"tasks[{index}]"
            if not task.ignore_e164_validation and not is_e164(task.to_number):
                raise ApiError(400, f"{path}.to_number: {task.to_number!r} is not an E.164 number")
            if self.config.batch_internal_dnc == "refuse" and task.to_number in self.dnc:
                # The whole batch is refused, as a single create is with honor_internal_dnc.
                raise _on_dnc_list(f"{path}.to_number", task.to_number)
            self._variables(
                task.retell_llm_dynamic_variables, f"{path}.retell_llm_dynamic_variables"
            )
            if task.override_agent_id is not None:
                agent = self.workspace.agent(task.override_agent_id)
                self.workspace.agent_version(agent, task.override_agent_version)
        if self._out_of_credit():
            # 402 is documented for create-phone-call only; a batch is refused alike (our choice).
            raise self._payment_required()
        window = BatchCallWindow(request.call_time_window) if request.call_time_window else None
        scheduled = int(request.trigger_timestamp) if request.trigger_timestamp is not None else now
        batch_id = f"batch_call_{secrets.token_hex(11)[:21]}"
        batch = SimulatedBatch(
            batch_call_id=batch_id,
            name=request.name or batch_id,
            from_number=request.from_number,
            scheduled_ms=scheduled,
            reserved_concurrency=request.reserved_concurrency,
            window=window,
            tasks=deque(request.tasks),
            total=len(request.tasks),
        )
        self.batches.submit(batch)
        return batch

    def _place_batch_call(self, batch: SimulatedBatch, task: TaskBody, dial_at: int) -> None:
        now = self.clock.now_ms()
        number = self._outbound_number(
            batch.from_number, need_agents=task.override_agent_id is None
        )
        agent, version = self._pick_agent(
            number, task.override_agent_id, task.override_agent_version
        )
        new = _NewCall(
            from_number=batch.from_number,
            to_number=task.to_number,
            agent=agent,
            agent_version=version,
            metadata=task.metadata if "metadata" in task.model_fields_set else None,
            variables=self._variables(
                task.retell_llm_dynamic_variables, "retell_llm_dynamic_variables"
            ),
            sip_headers=task.custom_sip_headers,
            batch_call_id=batch.batch_call_id,
        )
        if self._out_of_credit():
            # The batch was accepted while there was credit; its later tasks fail as calls.
            self._fail_at_once(new, now, self.config.out_of_credit_reason)
            return
        self._calls_billed += 1
        call = self._record(new, now)
        self.pool.acquire(call)
        self._schedule_dial(call, dial_at)

    def _fail_at_once(self, new: _NewCall, now: int, reason: str) -> CallRecord:
        """Record a call that ends with ``reason`` without being dialed (no slot held)."""
        call = self._record(new, now, Outcome(reason, 0, 0, False, "Unknown"))
        self._at(call, now, self._fail)
        return call

    def _out_of_credit(self) -> bool:
        """True once the calls the credit pays for (``credit_calls``) are placed. The first time
        it is found out, every call in progress ends with ``out_of_credit_reason``, as Retell cuts
        an account's calls when its credit runs out."""
        limit = self._credit_calls
        if limit is None or self._calls_billed < limit:
            return False
        if not self._credit_spent:
            self._credit_spent = True
            for call in [call for call in self.calls if not call.terminal]:
                self._end_now(call, self.config.out_of_credit_reason)
        return True

    def _payment_required(self) -> ApiError:
        return ApiError(402, PAYMENT_REQUIRED_MESSAGES[self.config.out_of_credit_reason])

    # Calls: create helpers

    def _idempotent_replay(self, key: str, raw: dict[str, Any], now: int) -> CallRecord | None:
        entry = self._idempotency.get(key)
        if entry is None or now - entry.created_ms >= self.config.idempotency_window_s * 1000:
            return None
        call = self.calls.get(entry.call_id)
        if call is None:
            return None
        if self.config.idempotency_conflict == "reject" and _fingerprint(raw) != entry.fingerprint:
            raise ApiError(409, "idempotency_key: already used with a different request body")
        self.stats.idempotent_replays += 1
        return call

    def _check_numbers(self, from_number: str, to_number: str | None, ignore_e164: bool) -> None:
        if not is_e164(from_number) and not ignore_e164:
            raise ApiError(400, f"from_number: {from_number!r} is not an E.164 number")
        if to_number is not None and not is_e164(to_number):
            raise ApiError(400, f"to_number: {to_number!r} is not an E.164 number")

    def _outbound_number(self, from_number: str, *, need_agents: bool = True) -> dict[str, Any]:
        number = self.workspace.numbers.get(from_number)
        if number is None or (need_agents and not number.get("outbound_agents")):
            raise ApiError(400, MESSAGE_NO_OUTBOUND_AGENT)
        return number

    def _pick_agent(
        self, number: dict[str, Any], override_id: str | None, override_version: int | str | None
    ) -> tuple[dict[str, Any], int]:
        if override_id is not None:
            agent = self.workspace.agent(override_id)
            return agent, self.workspace.agent_version(agent, override_version)
        bindings = number.get("outbound_agents") or []
        if not bindings:
            raise ApiError(400, MESSAGE_NO_OUTBOUND_AGENT)
        chooser = random.Random(f"{self.config.seed}:agent:{self._next_seq}")
        binding = chooser.choices(bindings, weights=[float(b["weight"]) for b in bindings])[0]
        bound = self.workspace.agents.get(binding["agent_id"])
        if bound is None:
            raise not_found(self.config.not_found_status)
        return bound, self.workspace.agent_version(bound, binding.get("agent_version"))

    def _variables(self, raw: dict[str, Any] | None, path: str) -> dict[str, str] | None:
        if raw is None:
            return None
        out: dict[str, str] = {}
        for key, value in raw.items():
            if isinstance(value, str):
                out[key] = value
            elif self.config.dynamic_variables == "reject":
                raise ApiError(400, f"{path}.{key}: must be a string, got {_json_type(value)}")
            else:
                out[key] = orjson.dumps(value).decode()
        return out

    def _too_many(self, cause: str, real_wait_s: float, message: str) -> ApiError:
        self.stats.rejected_429[cause] += 1
        headers = {}
        if self.config.retry_after_headers:
            headers = {
                "retry-after": str(max(1, math.ceil(real_wait_s))),
                "retry-after-ms": str(max(1, math.ceil(real_wait_s * 1000))),
            }
        return ApiError(429, message, headers)

    def rate_limited(self, real_wait_s: float) -> ApiError:
        """The 429 for a key over the API rate limit."""
        return self._too_many("rate_limit", real_wait_s, MESSAGE_RATE_LIMITED)

    def _take_seq(self) -> int:
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        return seq

    def _draw(self, seq: int, agent: dict[str, Any], to_number: str) -> Outcome:
        if self._trunk_failure is not None:
            # A broken trunk fails every dial, whoever is called and whatever was forced.
            return Outcome(self._trunk_failure, 0, 0, False, "Unknown")
        rng = random.Random(f"{self.config.seed}:outcome:{seq}")
        order = self.forced.get(to_number)
        model = self.config.outcomes
        if order is not None:
            outcome = forced_outcome(rng, model, order)
        else:
            outcome = draw_outcome(
                rng, model, self._success_rates.get(agent["agent_id"], model.success_rate)
            )
        return _fit_to_agent(outcome, agent)

    def _record(self, new: _NewCall, now: int, outcome: Outcome | None = None) -> CallRecord:
        seq = self._take_seq()
        agent = new.agent
        outcome = outcome or self._draw(seq, agent, new.to_number)
        call = CallRecord(
            seq=seq,
            call_id=f"call_{secrets.token_hex(14)[:27]}",
            call_type="phone_call",
            agent_id=agent["agent_id"],
            agent_version=new.agent_version,
            agent_name=agent.get("agent_name"),
            from_number=new.from_number,
            to_number=new.to_number,
            created_ms=now,
            outcome=outcome,
            metadata=new.metadata,
            dynamic_variables=new.variables,
            custom_sip_headers=new.sip_headers,
            batch_call_id=new.batch_call_id,
            telephony_sid=f"CA{secrets.token_hex(16)}",
        )
        self.calls.add(call)
        self.stats.calls_created += 1
        return call

    # Calls: lifecycle

    def _at(self, call: CallRecord, due_ms: int, step: Any) -> None:
        phase = call.phase

        def fire() -> None:
            if call.phase == phase and not call.deleted:
                step(call)

        self.scheduler.at(due_ms, fire)

    def _schedule_dial(self, call: CallRecord, dial_at: int) -> None:
        ring_end = dial_at + call.outcome.ring_ms
        self._at(call, ring_end, self._connect if call.outcome.connects else self._fail)

    def _connect(self, call: CallRecord) -> None:
        now = self.clock.now_ms()
        call.start_ms = now
        self.calls.set_status(call, "ongoing")
        self._emit(call, "call_started")
        self._at(call, now + call.outcome.talk_ms, self._hang_up)

    def _hang_up(self, call: CallRecord, reason: str | None = None) -> None:
        now = self.clock.now_ms()
        reason = reason or call.outcome.reason
        start = call.start_ms if call.start_ms is not None else now
        call.end_ms = now
        call.disconnection_reason = reason
        call.details = self._conversation_details(call, now - start)
        self.calls.set_status(call, "ended")
        self._release(call)
        if reason == "user_requested_dnc" and call.to_number is not None:
            self.dnc.add(call.to_number)
        self._emit(call, "call_ended")
        self._at(call, now + round(self.config.analysis_delay_s * 1000), self._analyze)

    def _fail(self, call: CallRecord, reason: str | None = None) -> None:
        now = self.clock.now_ms()
        reason = reason or call.outcome.reason
        kept = (
            "start_and_end" if call.batch_call_id is None else self.config.batch_failure_timestamps
        )
        call.start_ms = now if kept in ("start_and_end", "start_only") else None
        call.end_ms = now if kept in ("start_and_end", "end_only") else None
        call.disconnection_reason = reason
        call.details = {"call_cost": build_cost(0)}
        self.calls.set_status(call, status_for_reason(reason))
        self._release(call)
        self._emit(call, "call_ended")
        self._at(call, now + round(self.config.analysis_delay_s * 1000), self._analyze)

    def _analyze(self, call: CallRecord) -> None:
        reason = call.disconnection_reason or call.outcome.reason
        if status_for_reason(call.outcome.reason) == "ended" and (call.duration_ms or 0) > 0:
            outcome = call.outcome
            if reason != outcome.reason:
                outcome = dataclasses.replace(outcome, reason=reason, successful=False)
            fields = self._agent_config(call).get("post_call_analysis_data") or []
            analysis = build_analysis(
                self._content_rng(call, "analysis"), outcome, fields, self._variables_for(call)
            )
        else:
            analysis = not_connected_analysis(reason)
        call.call_analysis = analysis
        call.touch()
        self._emit(call, "call_analyzed")

    def _release(self, call: CallRecord) -> None:
        if self.pool.release(call):
            self.batches.slot_freed()

    def _content_rng(self, call: CallRecord, purpose: str) -> random.Random:
        return random.Random(f"{self.config.seed}:{purpose}:{call.seq}")

    def _agent_config(self, call: CallRecord) -> dict[str, Any]:
        return self.workspace.agents.get(call.agent_id, {})

    def _llm_config(self, call: CallRecord) -> dict[str, Any]:
        engine = self._agent_config(call).get("response_engine") or {}
        return self.workspace.llms.get(str(engine.get("llm_id")), {})

    def _variables_for(self, call: CallRecord) -> dict[str, str]:
        defaults = self._llm_config(call).get("default_dynamic_variables") or {}
        return {**defaults, **(call.dynamic_variables or {})}

    def _conversation_details(self, call: CallRecord, duration_ms: int) -> dict[str, Any]:
        variables = self._variables_for(call)
        transcript, utterances = build_transcript(
            call.outcome, self._llm_config(call).get("begin_message"), variables, duration_ms
        )
        rng = self._content_rng(call, "content")
        turns = max(1, sum(1 for utterance in utterances if utterance["role"] == "agent"))
        tokens = [float(rng.randint(900, 2400)) for _ in range(turns)]
        base = f"https://recordings.retell-simulator.invalid/{call.call_id}"
        return {
            "transcript": transcript,
            "transcript_object": utterances,
            "transcript_with_tool_calls": utterances,
            "recording_url": f"{base}/recording.wav",
            "recording_multi_channel_url": f"{base}/recording_multichannel.wav",
            "public_log_url": f"https://logs.retell-simulator.invalid/{call.call_id}/public.log",
            "call_cost": build_cost(duration_ms),
            "latency": build_latency(rng, turns),
            "llm_token_usage": {
                "values": tokens,
                "average": sum(tokens) / len(tokens),
                "num_requests": len(tokens),
            },
            "collected_dynamic_variables": {
                **(call.dynamic_variables or {}),
                **self.config.outcomes.collected_variables,
            },
        }

    def _emit(self, call: CallRecord, event: str) -> None:
        agent = self._agent_config(call)
        url = agent.get("webhook_url") or self.config.account_webhook_url
        if not url:
            return
        events = agent.get("webhook_events")
        if event not in (DEFAULT_WEBHOOK_EVENTS if events is None else events):
            return
        self.webhooks.emit(
            call_id=call.call_id,
            event=event,
            call=call.webhook_view(event),
            url=str(url),
            timeout_s=float(agent.get("webhook_timeout_ms") or 10_000) / 1000.0,
        )

    # Calls: read and change

    def call(self, call_id: str) -> CallRecord:
        """The call ``call_id`` (422/404 when unknown)."""
        call = self.calls.get(call_id)
        if call is None:
            raise not_found(self.config.not_found_status)
        return call

    def update_call(self, call_id: str, raw: dict[str, Any]) -> CallRecord:
        """Replace metadata and/or tighten the data storage setting."""
        call = self.call(call_id)
        request = validate_body(UpdateCallBody, raw)
        if "metadata" in request.model_fields_set:
            if len(orjson.dumps(request.metadata)) > 50_000:
                raise ApiError(400, "metadata: larger than 50 kB")
            self.calls.replace_metadata(call, request.metadata)
        if request.data_storage_setting is not None:
            current = call.data_storage_setting or "everything"
            if _STORAGE_STRICTNESS.index(request.data_storage_setting) < _STORAGE_STRICTNESS.index(
                current
            ):
                raise ApiError(
                    400,
                    f"data_storage_setting: cannot go from {current} back to "
                    f"{request.data_storage_setting} (only more restrictive settings are allowed)",
                )
            call.data_storage_setting = request.data_storage_setting
            call.touch()
        return call

    def stop_call(self, call_id: str) -> None:
        """End a live call now with ``manual_stopped``."""
        call = self.call(call_id)
        if call.terminal:
            raise ApiError(400, f"call {call_id} has already ended")
        self._end_now(call, "manual_stopped")

    def _end_now(self, call: CallRecord, reason: str) -> None:
        """End a live call now: hung up if connected, failed if still dialing."""
        call.phase += 1
        if call.call_status == "ongoing":
            self._hang_up(call, reason)
        else:
            self._fail(call, reason)

    def delete_call(self, call_id: str) -> None:
        """Delete a call (a live one is dropped and frees its slot)."""
        call = self.call(call_id)
        call.deleted = True
        call.phase += 1
        self._release(call)
        self.calls.remove(call)

    # Control

    def repair_account(self) -> None:
        """The account's owner added credit and fixed the trunk: calls go through again."""
        self._credit_calls = None
        self._credit_spent = False
        self._trunk_failure = None

    def force(self, order: ForcedOutcome) -> None:
        """Make every later call to ``order.to_number`` end as ordered."""
        self.forced[order.to_number] = order

    def add_dnc(self, number: str) -> None:
        """Put ``number`` on the workspace's internal do-not-call list."""
        if not is_e164(number):
            raise ApiError(400, f"number: {number!r} is not an E.164 number")
        self.dnc.add(number)

    def stats_snapshot(self) -> dict[str, Any]:
        """Everything /_sim/stats reports."""
        stats = self.stats
        return {
            "calls_created": stats.calls_created,
            "calls_by_status": {
                status: n for status, n in sorted(self.calls.status_counts.items()) if n
            },
            "calls_stored": len(self.calls),
            "current_concurrency": self.pool.current,
            "peak_concurrency": self.pool.peak,
            "concurrency_limit": self.pool.limit,
            "busy_slot_seconds": round(self.pool.busy_slot_seconds(), 3),
            "total_requests": stats.total_requests,
            "requests_by_endpoint": dict(sorted(stats.requests_by_endpoint.items())),
            "idempotent_replays": stats.idempotent_replays,
            "rejected_429": sum(stats.rejected_429.values()),
            "rejected_429_by_cause": dict(stats.rejected_429),
            "faults_injected": dict(stats.faults_injected),
            "elapsed_virtual_seconds": round(self.clock.elapsed_virtual_seconds(), 3),
            "virtual_now_ms": self.clock.now_ms(),
            "speed": self.clock.speed,
            "scheduler_pending": self.scheduler.pending,
            "scheduler_lag_ms_max": round(self.scheduler.lag.max_ms, 3),
            "scheduler_lag_ms_mean": round(self.scheduler.lag.mean_ms, 3),
            "batches": len(self.batches.batches),
            **self.webhooks.stats.snapshot(),
        }


def _fingerprint(raw: dict[str, Any]) -> bytes:
    return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)


def _fit_to_agent(outcome: Outcome, agent: dict[str, Any]) -> Outcome:
    """Apply the agent's ring and maximum call durations to a drawn outcome."""
    if outcome.reason == "dial_no_answer":
        return dataclasses.replace(
            outcome, ring_ms=int(agent.get("ring_duration_ms") or outcome.ring_ms)
        )
    limit = int(agent.get("max_call_duration_ms") or 3_600_000)
    if outcome.connects and outcome.talk_ms > limit:
        return dataclasses.replace(outcome, reason="max_duration_reached", talk_ms=limit)
    return outcome
