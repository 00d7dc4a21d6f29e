"""The simulator's record of one call and its three renderings (get-call, list item, webhook).

Field names and shapes follow the SDK's ``PhoneCallResponse`` / ``WebCallResponse``. Unset fields
are left out rather than sent as null. ``batch_call_id`` is remembered for the list filter but never
rendered: the call object has no such field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from retell_sim.outcomes import Outcome

__all__ = ["TERMINAL_STATUSES", "TRANSCRIPT_FIELDS", "CallRecord"]

TERMINAL_STATUSES = frozenset({"ended", "not_connected", "error"})
TRANSCRIPT_FIELDS = ("transcript", "transcript_object", "transcript_with_tool_calls")


@dataclass(slots=True, eq=False)
class CallRecord:
    """Everything the simulator knows about one call."""

    seq: int
    call_id: str
    call_type: str
    agent_id: str
    agent_version: int
    agent_name: str | None
    from_number: str | None
    to_number: str | None
    created_ms: int
    outcome: Outcome
    metadata: Any = None
    dynamic_variables: dict[str, str] | None = None
    custom_sip_headers: dict[str, str] | None = None
    batch_call_id: str | None = None
    access_token: str | None = None
    telephony_sid: str | None = None
    data_storage_setting: str | None = None
    call_status: str = "registered"
    start_ms: int | None = None
    end_ms: int | None = None
    disconnection_reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    call_analysis: dict[str, Any] | None = None
    phase: int = 0
    slot_since_ms: int | None = None
    deleted: bool = False
    _full: dict[str, Any] | None = None
    _item: dict[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        """True once the call has ended, failed to connect, or errored."""
        return self.call_status in TERMINAL_STATUSES

    @property
    def duration_ms(self) -> int | None:
        """end - start, once the call has ended."""
        if self.start_ms is None or self.end_ms is None:
            return None
        return self.end_ms - self.start_ms

    @property
    def combined_cost(self) -> float | None:
        """The call's total cost in cents, once known."""
        cost = self.details.get("call_cost")
        return None if cost is None else float(cost["combined_cost"])

    @property
    def e2e_latency_p50(self) -> float | None:
        """Median end-to-end latency, once known."""
        latency = self.details.get("latency")
        if not latency or "e2e" not in latency:
            return None
        return float(latency["e2e"]["p50"])

    def touch(self) -> None:
        """Forget cached renderings after a change."""
        self._full = None
        self._item = None

    def full(self) -> dict[str, Any]:
        """The get-call object, transcripts included."""
        if self._full is None:
            self._full = self._render(with_transcripts=True)
        return self._full

    def item(self) -> dict[str, Any]:
        """The list-calls v3 item: the call object without the transcript family."""
        if self._item is None:
            self._item = self._render(with_transcripts=False)
        return self._item

    def webhook_view(self, event: str) -> dict[str, Any]:
        """The ``call`` of a webhook; ``call_ended`` never carries ``call_analysis``."""
        view = self.full()
        if event == "call_ended" and "call_analysis" in view:
            view = {key: value for key, value in view.items() if key != "call_analysis"}
        return view

    def _render(self, *, with_transcripts: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "call_id": self.call_id,
            "call_type": self.call_type,
            "agent_id": self.agent_id,
            "agent_version": self.agent_version,
            "call_status": self.call_status,
        }
        if self.call_type == "phone_call":
            out["direction"] = "outbound"
            out["from_number"] = self.from_number
            out["to_number"] = self.to_number
            if self.telephony_sid is not None:
                out["telephony_identifier"] = {"twilio_call_sid": self.telephony_sid}
        else:
            out["access_token"] = self.access_token
        optional = {
            "agent_name": self.agent_name,
            "metadata": self.metadata,
            "retell_llm_dynamic_variables": self.dynamic_variables,
            "custom_sip_headers": self.custom_sip_headers,
            "data_storage_setting": self.data_storage_setting,
            "start_timestamp": self.start_ms,
            "end_timestamp": self.end_ms,
            "duration_ms": self.duration_ms,
            "disconnection_reason": self.disconnection_reason,
        }
        out.update((key, value) for key, value in optional.items() if value is not None)
        for key, value in self.details.items():
            if with_transcripts or key not in TRANSCRIPT_FIELDS:
                out[key] = value
        if self.call_analysis is not None:
            out["call_analysis"] = self.call_analysis
        return out
