"""All calls of the workspace, with the indexes list-calls filters lean on.

Lookups by call_id, batch_call_id and top-level metadata value (the filters an orchestrator sends on
every sync) are dictionary hits instead of scans. Metadata values are indexed with their JSON type,
so ``"42"`` and ``42`` and ``true`` stay distinct, as they are in a filter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Iterator
from typing import Any

from retell_sim.records import CallRecord

__all__ = ["CallStore", "metadata_index_key"]


def metadata_index_key(value: Any) -> Hashable | None:
    """The index key of a metadata value; None for values not indexed (objects, lists)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", float(value))
    if isinstance(value, str):
        return ("s", value)
    return None


class CallStore:
    """Calls by id in creation order, plus indexes by batch and metadata value."""

    def __init__(self) -> None:
        self._by_id: dict[str, CallRecord] = {}
        self._by_batch: dict[str, set[str]] = {}
        self._by_metadata: dict[str, dict[Hashable, set[str]]] = {}
        self.status_counts: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(self._by_id.values())

    def get(self, call_id: str) -> CallRecord | None:
        """The call with ``call_id``, if any."""
        return self._by_id.get(call_id)

    def ids_in_batch(self, batch_call_id: str) -> set[str]:
        """Ids of the calls a batch placed."""
        return self._by_batch.get(batch_call_id, set())

    def ids_with_metadata(self, key: str, value: Any) -> set[str]:
        """Ids of calls whose top-level ``metadata[key]`` equals ``value``."""
        index_key = metadata_index_key(value)
        if index_key is None:
            return set()
        return self._by_metadata.get(key, {}).get(index_key, set())

    def records(self, call_ids: Iterable[str]) -> list[CallRecord]:
        """The calls for ``call_ids`` that exist."""
        found = (self._by_id.get(call_id) for call_id in call_ids)
        return [call for call in found if call is not None]

    def add(self, call: CallRecord) -> None:
        """Store a new call."""
        self._by_id[call.call_id] = call
        self.status_counts[call.call_status] += 1
        if call.batch_call_id is not None:
            self._by_batch.setdefault(call.batch_call_id, set()).add(call.call_id)
        self._index_metadata(call, add=True)

    def remove(self, call: CallRecord) -> None:
        """Drop a call and its index entries."""
        if self._by_id.pop(call.call_id, None) is None:
            return
        self.status_counts[call.call_status] -= 1
        if call.batch_call_id is not None:
            self._by_batch.get(call.batch_call_id, set()).discard(call.call_id)
        self._index_metadata(call, add=False)

    def set_status(self, call: CallRecord, status: str) -> None:
        """Change a call's status, keeping the per-status counts exact."""
        self.status_counts[call.call_status] -= 1
        self.status_counts[status] += 1
        call.call_status = status
        call.touch()

    def replace_metadata(self, call: CallRecord, metadata: Any) -> None:
        """Swap a call's metadata and re-index it."""
        self._index_metadata(call, add=False)
        call.metadata = metadata
        self._index_metadata(call, add=True)
        call.touch()

    def clear(self) -> None:
        """Forget every call."""
        self._by_id.clear()
        self._by_batch.clear()
        self._by_metadata.clear()
        self.status_counts.clear()

    def _index_metadata(self, call: CallRecord, *, add: bool) -> None:
        if not isinstance(call.metadata, dict):
            return
        for key, value in call.metadata.items():
            index_key = metadata_index_key(value)
            if index_key is None:
                continue
            ids = self._by_metadata.setdefault(key, {}).setdefault(index_key, set())
            if add:
                ids.add(call.call_id)
            else:
                ids.discard(call.call_id)
