"""Builders for `POST /v3/list-calls` filter criteria (Retell's `{type, op, value}` leaves).

criteria = call_filter(metadata={"campaign": "spring-recall"}, call_statuses=FINISHED_CALL_STATUSES)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["FINISHED_CALL_STATUSES", "call_filter", "enum_in", "metadata_equals", "string_equals"]

# Filterable statuses that mean "this call is over" (list-calls cannot filter `registered`).
FINISHED_CALL_STATUSES = ("ended", "not_connected", "error")


def string_equals(value: str) -> dict[str, Any]:
    return {"type": "string", "op": "eq", "value": value}


def enum_in(values: Iterable[str]) -> dict[str, Any]:
    return {"type": "enum", "op": "in", "value": list(values)}


def metadata_equals(key: str, value: str) -> dict[str, Any]:
    """A keyed filter on a top-level metadata key."""
    return {"key": key, "type": "string", "op": "eq", "value": value}


def call_filter(
    *,
    metadata: Mapping[str, str] | None = None,
    call_ids: Iterable[str] | None = None,
    call_statuses: Iterable[str] | None = None,
    batch_call_id: str | None = None,
    start_timestamp_from: int | None = None,
    agent_ids: Iterable[str] | None = None,
) -> dict[str, Any]:
    """`filter_criteria` for list-calls v3; every given condition must hold (Retell ANDs them)."""
    criteria: dict[str, Any] = {}
    if metadata:
        criteria["metadata"] = [metadata_equals(key, value) for key, value in metadata.items()]
    if call_ids is not None:
        criteria["call_id"] = enum_in(call_ids)
    if call_statuses is not None:
        criteria["call_status"] = enum_in(call_statuses)
    if batch_call_id is not None:
        criteria["batch_call_id"] = string_equals(batch_call_id)
    if start_timestamp_from is not None:
        criteria["start_timestamp"] = {"type": "number", "op": "ge", "value": start_timestamp_from}
    if agent_ids is not None:
        criteria["agent"] = [{"agent_id": agent_id} for agent_id in agent_ids]
    return criteria
