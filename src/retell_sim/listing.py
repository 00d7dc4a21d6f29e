"""list-calls (v3): the filter grammar, sorting and paging.

Sorting is by ``start_timestamp`` (default descending), ties broken by creation order. A call
without a ``start_timestamp`` (registered, still dialing) sorts as if its start were +infinity, as
PostgreSQL sorts NULLs: first in descending order, last in ascending order. Calls that never
connected carry ``start_timestamp == end_timestamp`` (the moment they ended), so they sort by that.

A missing value (a metadata key the call lacks, analysis not yet in) matches only the ``present``
filter with op ``np``; every other leaf is false on it, ``ne`` included, as SQL treats NULL.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard

import orjson
from pydantic import BaseModel, ConfigDict, Field

from retell_sim.callstore import CallStore
from retell_sim.errors import ApiError
from retell_sim.outcomes import DISCONNECTION_REASONS
from retell_sim.records import CallRecord

__all__ = [
    "CallQuery",
    "ListCallsBody",
    "compile_v3_filter",
    "list_calls_v3",
]

MAX_LIMIT = 1000
SortOrder = Literal["ascending", "descending"]
Predicate = Callable[[CallRecord], bool]
Extractor = Callable[[CallRecord], Any]

_OPS: dict[str, frozenset[str]] = {
    "string": frozenset({"eq", "ne", "sw", "ew", "co"}),
    "number": frozenset({"eq", "ne", "gt", "ge", "lt", "le"}),
    "range": frozenset({"bt"}),
    "boolean": frozenset({"eq"}),
    "enum": frozenset({"in"}),
    "present": frozenset({"pr", "np"}),
}
_ALL_TYPES = frozenset(_OPS)
_NUMERIC = frozenset({"number", "range"})


class ListCallsBody(BaseModel):
    """POST /v3/list-calls body."""

    model_config = ConfigDict(extra="ignore")

    filter_criteria: dict[str, Any] | None = None
    sort_order: SortOrder = "descending"
    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    skip: int | None = Field(None, ge=0)
    pagination_key: str | None = None
    include_total: bool = False


@dataclass
class CallQuery:
    """A compiled filter: index lookups that bound the candidates, then predicates on each."""

    predicates: list[Predicate] = field(default_factory=list)
    candidate_sets: list[set[str]] = field(default_factory=list)

    def select(self, store: CallStore) -> list[CallRecord]:
        """Every call in ``store`` that matches."""
        if self.candidate_sets:
            ordered = sorted(self.candidate_sets, key=len)
            ids = set(ordered[0]).intersection(*ordered[1:])
            calls = store.records(ids)
        else:
            calls = list(store)
        predicates = self.predicates
        return [call for call in calls if all(test(call) for test in predicates)]


def _bad(path: str, problem: str) -> ApiError:
    return ApiError(400, f"{path}: {problem}")


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _leaf(
    path: str, spec: Any, types: frozenset[str], enum_values: frozenset[str] | None = None
) -> Callable[[Any], bool]:
    """Compile one ``{type, op, value}`` leaf into a test on the extracted value."""
    if not isinstance(spec, dict):
        raise _bad(path, "must be an object with type, op and value")
    kind, op, value = spec.get("type"), spec.get("op"), spec.get("value")
    if kind not in types:
        raise _bad(path, f"type must be one of {sorted(types)}, got {kind!r}")
    if op not in _OPS[kind]:
        raise _bad(path, f"op must be one of {sorted(_OPS[kind])} for type {kind}, got {op!r}")
    if kind == "string":
        if not isinstance(value, str):
            raise _bad(path, "value must be a string")
        return _string_test(op, value)
    if kind == "number":
        if not _is_number(value):
            raise _bad(path, "value must be a number")
        return _number_test(op, float(value))
    if kind == "range":
        bounds: list[Any] = value if isinstance(value, list) else []
        if len(bounds) != 2 or not all(map(_is_number, bounds)):
            raise _bad(path, "value must be [lower, upper] numbers")
        low, high = float(bounds[0]), float(bounds[1])
        return lambda v: _is_number(v) and low <= v <= high
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _bad(path, "value must be true or false")
        return lambda v: isinstance(v, bool) and v is value
    if kind == "enum":
        if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
            raise _bad(path, "value must be a list of strings")
        unknown = sorted(set(value) - enum_values) if enum_values is not None else []
        if unknown:
            raise _bad(path, f"value contains {unknown}; allowed: {sorted(enum_values or ())}")
        allowed = frozenset(value)
        return lambda v: isinstance(v, str) and v in allowed
    if op == "pr":
        return lambda v: v is not None
    return lambda v: v is None


def _string_test(op: str, target: str) -> Callable[[Any], bool]:
    tests: dict[str, Callable[[str], bool]] = {
        "eq": lambda v: v == target,
        "ne": lambda v: v != target,
        "sw": lambda v: v.startswith(target),
        "ew": lambda v: v.endswith(target),
        "co": lambda v: target in v,
    }
    test = tests[op]
    return lambda v: isinstance(v, str) and test(v)


def _number_test(op: str, target: float) -> Callable[[Any], bool]:
    tests: dict[str, Callable[[float], bool]] = {
        "eq": lambda v: v == target,
        "ne": lambda v: v != target,
        "gt": lambda v: v > target,
        "ge": lambda v: v >= target,
        "lt": lambda v: v < target,
        "le": lambda v: v <= target,
    }
    test = tests[op]
    return lambda v: _is_number(v) and test(v)


def _analysis(name: str) -> Extractor:
    return lambda call: (call.call_analysis or {}).get(name)


def _direction(call: CallRecord) -> str | None:
    return "outbound" if call.call_type == "phone_call" else None


def _no_value(call: CallRecord) -> None:
    return None


# key -> (allowed leaf types, extractor, allowed enum values)
_FIELDS: dict[str, tuple[frozenset[str], Extractor, frozenset[str] | None]] = {
    "call_id": (frozenset({"string", "enum"}), lambda c: c.call_id, None),
    "batch_call_id": (frozenset({"string"}), lambda c: c.batch_call_id, None),
    "call_status": (
        frozenset({"enum"}),
        lambda c: c.call_status,
        frozenset({"not_connected", "ongoing", "ended", "error"}),
    ),
    "call_type": (
        frozenset({"enum"}),
        lambda c: c.call_type,
        frozenset({"web_call", "phone_call"}),
    ),
    "direction": (frozenset({"enum"}), _direction, frozenset({"inbound", "outbound"})),
    "disconnection_reason": (
        frozenset({"enum"}),
        lambda c: c.disconnection_reason,
        frozenset(DISCONNECTION_REASONS),
    ),
    "from_number": (frozenset({"string"}), lambda c: c.from_number, None),
    "to_number": (frozenset({"string"}), lambda c: c.to_number, None),
    "agent_tag": (frozenset({"enum"}), _no_value, None),
    "data_storage_setting": (
        frozenset({"enum"}),
        lambda c: c.data_storage_setting,
        frozenset({"everything", "everything_except_pii", "basic_attributes_only"}),
    ),
    "start_timestamp": (_NUMERIC, lambda c: c.start_ms, None),
    "end_timestamp": (_NUMERIC, lambda c: c.end_ms, None),
    "duration_ms": (_NUMERIC, lambda c: c.duration_ms, None),
    "combined_cost": (_NUMERIC, lambda c: c.combined_cost, None),
    "e2e_latency_p50": (_NUMERIC, lambda c: c.e2e_latency_p50, None),
    "call_successful": (frozenset({"boolean"}), _analysis("call_successful"), None),
    "in_voicemail": (frozenset({"boolean"}), _analysis("in_voicemail"), None),
    "user_sentiment": (
        frozenset({"enum"}),
        _analysis("user_sentiment"),
        frozenset({"Negative", "Positive", "Neutral", "Unknown"}),
    ),
}


def _metadata(call: CallRecord) -> Mapping[str, Any] | None:
    return call.metadata if isinstance(call.metadata, dict) else None


def _custom_analysis(call: CallRecord) -> Mapping[str, Any] | None:
    data = (call.call_analysis or {}).get("custom_analysis_data")
    return data if isinstance(data, dict) else None


def _no_mapping(call: CallRecord) -> None:
    return None


_KEYED: dict[str, Callable[[CallRecord], Mapping[str, Any] | None]] = {
    "metadata": _metadata,
    "dynamic_variables": lambda call: call.dynamic_variables,
    "custom_analysis_data": _custom_analysis,
    "custom_attributes": _no_mapping,
}


def compile_v3_filter(criteria: Mapping[str, Any] | None, store: CallStore) -> CallQuery:
    """Compile v3 ``filter_criteria`` (all keys ANDed); unknown keys and bad leaves raise 400."""
    query = CallQuery()
    for key, spec in (criteria or {}).items():
        path = f"filter_criteria.{key}"
        if key in _FIELDS:
            types, extract, enum_values = _FIELDS[key]
            test = _leaf(path, spec, types, enum_values)
            query.predicates.append(_field_predicate(test, extract))
            _hint_field(query, key, spec, store)
        elif key in _KEYED:
            for index, entry in enumerate(_as_list(path, spec)):
                _compile_keyed(query, f"{path}[{index}]", key, entry, store)
        elif key == "agent":
            query.predicates.append(_agent_predicate(path, spec))
        elif key == "tool_calls":
            # Simulated calls make no tool calls, so any tool-call condition matches nothing.
            if _as_list(path, spec):
                query.predicates.append(lambda call: False)
        else:
            raise _bad(path, "unknown filter key")
    return query


def _field_predicate(test: Callable[[Any], bool], extract: Extractor) -> Predicate:
    return lambda call: test(extract(call))


def _as_list(path: str, spec: Any) -> list[Any]:
    if not isinstance(spec, list):
        raise _bad(path, "must be a list")
    return spec


def _compile_keyed(query: CallQuery, path: str, kind: str, entry: Any, store: CallStore) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
        raise _bad(path, "must be an object with a string key")
    name = entry["key"]
    test = _leaf(path, entry, _ALL_TYPES)
    mapping = _KEYED[kind]

    def matches(call: CallRecord) -> bool:
        values = mapping(call)
        return test(None if values is None else values.get(name))

    query.predicates.append(matches)
    if kind == "metadata" and entry.get("type") in ("string", "number", "boolean"):
        if entry.get("op") == "eq":
            query.candidate_sets.append(store.ids_with_metadata(name, entry["value"]))
    elif kind == "metadata" and entry.get("type") == "enum":
        union: set[str] = set()
        for value in entry["value"]:
            union |= store.ids_with_metadata(name, value)
        query.candidate_sets.append(union)


def _hint_field(query: CallQuery, key: str, spec: dict[str, Any], store: CallStore) -> None:
    if key == "call_id":
        value = spec["value"]
        if spec["op"] == "eq":
            query.candidate_sets.append({value})
        elif spec["op"] == "in":
            query.candidate_sets.append(set(value))
    elif key == "batch_call_id" and spec["op"] == "eq":
        query.candidate_sets.append(store.ids_in_batch(spec["value"]))


def _agent_predicate(path: str, spec: Any) -> Predicate:
    wanted: list[tuple[str, frozenset[int] | None]] = []
    for index, entry in enumerate(_as_list(path, spec)):
        if not isinstance(entry, dict) or not isinstance(entry.get("agent_id"), str):
            raise _bad(f"{path}[{index}]", "must be an object with a string agent_id")
        versions = entry.get("version")
        if versions is not None and not (
            isinstance(versions, list) and all(map(_is_number, versions))
        ):
            raise _bad(f"{path}[{index}].version", "must be a list of numbers")
        wanted.append(
            (entry["agent_id"], frozenset(int(v) for v in versions) if versions else None)
        )

    def matches(call: CallRecord) -> bool:
        return any(
            call.agent_id == agent_id and (versions is None or call.agent_version in versions)
            for agent_id, versions in wanted
        )

    return matches


def _sort_key(call: CallRecord, order: SortOrder) -> tuple[float, int]:
    start = math.inf if call.start_ms is None else float(call.start_ms)
    return (start, call.seq) if order == "ascending" else (-start, -call.seq)


def _sorted(
    calls: list[CallRecord], order: SortOrder
) -> tuple[list[CallRecord], list[tuple[float, int]]]:
    keyed = sorted(((_sort_key(call, order), call) for call in calls), key=lambda pair: pair[0])
    return [call for _, call in keyed], [key for key, _ in keyed]


def _encode_cursor(call: CallRecord, order: SortOrder) -> str:
    raw = orjson.dumps([call.start_ms, call.seq, order])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(token: str, order: SortOrder) -> tuple[float, int]:
    try:
        start, seq, cursor_order = orjson.loads(
            base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        )
    except (ValueError, TypeError, binascii.Error):
        raise _bad("pagination_key", "not a pagination key this server issued") from None
    if (
        cursor_order != order
        or not isinstance(seq, int)
        or not (start is None or _is_number(start))
    ):
        raise _bad("pagination_key", "does not belong to this sort_order")
    value = math.inf if start is None else float(start)
    return (value, seq) if order == "ascending" else (-value, -seq)


def list_calls_v3(body: ListCallsBody, store: CallStore) -> dict[str, Any]:
    """The /v3/list-calls response for ``body``."""
    if body.skip is not None and body.pagination_key is not None:
        raise ApiError(400, "skip and pagination_key cannot be used together")
    matching = compile_v3_filter(body.filter_criteria, store).select(store)
    ordered, keys = _sorted(matching, body.sort_order)
    start = 0
    if body.pagination_key is not None:
        start = bisect.bisect_right(keys, _decode_cursor(body.pagination_key, body.sort_order))
    elif body.skip:
        start = body.skip
    page = ordered[start : start + body.limit]
    has_more = start + body.limit < len(ordered)
    response: dict[str, Any] = {
        "items": [call.item() for call in page],
        "has_more": has_more,
        "pagination_key": _encode_cursor(page[-1], body.sort_order) if has_more and page else None,
    }
    if body.include_total:
        response["total"] = len(ordered)
    return response
