"""Exactly once, checked against Retell's own record: `campaigner audit NAME`.

Every call Retell has with the campaign's metadata is read back (`list-calls`, page by page) and
held against the store's attempts, one to one:

- every call at Retell is on exactly one attempt row of the store (none unknown);
- every attempt with a call id has that call at Retell (none invented or mistyped);
- no attempt has more than one call at Retell (the promise: one attempt, one call). A second call
  the store recorded on a flagged row of its own (`duplicate_of`) is counted and not lost, but it
  is still a second call, so the audit names it.
"""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel

from campaigner.retell import RetellClient, call_filter
from campaigner.store import Engine, attempts, campaigns, results, transaction

__all__ = ["CallAudit", "audit_calls"]


class CallAudit(BaseModel):
    """What the audit compared, and every mismatch it found (all empty: exactly once held)."""

    campaign: str
    calls_at_retell: int
    attempts_with_a_call: int
    calls_without_attempt: list[str]
    attempts_whose_call_is_missing: list[int]
    attempts_with_several_calls: dict[int, list[str]]
    second_calls_recorded: int

    @property
    def exactly_once(self) -> bool:
        """True when the store and Retell agree call for call."""
        return not (
            self.calls_without_attempt
            or self.attempts_whose_call_is_missing
            or self.attempts_with_several_calls
        )


async def audit_calls(*, client: RetellClient, engine: Engine, campaign: str) -> CallAudit:
    """Compare Retell's calls for `campaign` with the store's attempts (see the module doc)."""
    with transaction(engine) as session:
        found = campaigns.get_by_name(session=session, name=campaign)
        on_record = (
            attempts.calls_on_record(session=session, campaign_id=found.id)
            if found is not None and found.id is not None
            else []
        )
    at_retell: dict[str, int | None] = {}
    async for call in client.iter_calls(
        filter_criteria=call_filter(metadata={"campaign": campaign})
    ):
        at_retell[call.call_id] = results.metadata_attempt_id(call.metadata)
    by_call = {record.call_id: record for record in on_record}
    calls_per_attempt: dict[int, list[str]] = defaultdict(list)
    for call_id, named in at_retell.items():
        record = by_call.get(call_id)
        attempt_id = (record.duplicate_of or record.attempt_id) if record is not None else named
        if attempt_id is not None:
            calls_per_attempt[attempt_id].append(call_id)
    return CallAudit(
        campaign=campaign,
        calls_at_retell=len(at_retell),
        attempts_with_a_call=len(on_record),
        calls_without_attempt=sorted(set(at_retell) - set(by_call)),
        attempts_whose_call_is_missing=sorted(
            record.attempt_id for record in on_record if record.call_id not in at_retell
        ),
        attempts_with_several_calls={
            attempt_id: sorted(calls)
            for attempt_id, calls in sorted(calls_per_attempt.items())
            if len(calls) > 1
        },
        second_calls_recorded=sum(1 for record in on_record if record.duplicate_of is not None),
    )
