"""Call results, many per write: what a sync turn writes, in a few statements for any count.

A result sync hands over every call view it got in one go (a list-calls page, the webhooks of a
turn). Per batch, not per call: one SELECT finds the attempts, one executemany UPDATE merges what
Retell said into them, one conditional UPDATE per outcome class finalizes those not yet final,
two SELECTs read what settling needs, and one executemany UPDATE settles the contacts. These are
Core statements (the ORM's per-row bookkeeping cost more than the SQL); objects of these rows
already loaded in the caller's session are expired, so they read the new values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from campaigner.campaign import OutcomeClass
from campaigner.store.bulk import chunks
from campaigner.store.errors import StoreError
from campaigner.store.models import (
    AttemptState,
    CallAttempt,
    Campaign,
    CampaignStatus,
    Contact,
    ContactStatus,
)

__all__ = [
    "IN_LIST_CHUNK",
    "RECORDED_CALL_FIELDS",
    "ContactFacts",
    "RecordedAttempt",
    "Settlement",
    "finalize_attempts",
    "metadata_attempt_id",
    "record_call_results",
    "settle_contacts",
    "settling_facts",
]

_MAX_ROW_ID = 2**63 - 1
"""The largest id a row can have (BIGINT; SQLite's INTEGER): a larger one names no attempt, and
SQLite refuses to even compare with it."""

IN_LIST_CHUNK = 2_000
"""Values per IN (...) list: well under SQLite's 32,766 bound parameters per statement."""

_ATTEMPT: sa.Table = CallAttempt.__table__  # type: ignore[attr-defined]
_CONTACT: sa.Table = Contact.__table__  # type: ignore[attr-defined]
_CAMPAIGN: sa.Table = Campaign.__table__  # type: ignore[attr-defined]

_STATE_RANK = {
    AttemptState.PENDING_SEND: 0,
    AttemptState.AMBIGUOUS: 0,
    AttemptState.SENT: 1,
    AttemptState.REGISTERED: 2,
    AttemptState.ONGOING: 3,
    AttemptState.ENDED: 4,
    AttemptState.NOT_CONNECTED: 4,
    AttemptState.ERROR: 4,
}

# Fields a view of a call may leave out (list-calls has no transcript; `call_ended` has no
# analysis): a missing one keeps its stored value.
_KEPT_IF_MISSING = (
    "agent_version",
    "disconnection_reason",
    "start_timestamp",
    "end_timestamp",
    "duration_ms",
    "cost_cents",
    "latency_e2e_p50_ms",
    "latency_e2e_p90_ms",
    "call_successful",
    "user_sentiment",
    "in_voicemail",
    "call_summary",
    "custom_analysis",
    "recording_url",
    "public_log_url",
    "transcript",
    "outcome_class",
)


RECORDED_CALL_FIELDS = frozenset(
    {
        "call_id",
        "call_status",
        "metadata",
        "agent_version",
        "disconnection_reason",
        "start_timestamp",
        "end_timestamp",
        "duration_ms",
        "call_cost",
        "latency",
        "call_analysis",
        "recording_url",
        "public_log_url",
        "transcript",
    }
)
"""The fields of a call view `record_call_results` reads: a caller may pass only these."""


def _bind(name: str) -> sa.BindParameter[Any]:
    column_type = _ATTEMPT.c[name].type
    if isinstance(column_type, sa.JSON):
        # A missing value must bind as SQL NULL for COALESCE, not as the JSON text 'null'.
        column_type = sa.JSON(none_as_null=True)
    return sa.bindparam(f"v_{name}", type_=column_type)


_RECORD = (
    _ATTEMPT.update()
    .where(
        _ATTEMPT.c.id == sa.bindparam("b_id"),
        # One attempt, one call: a call id once set is never replaced (a trigger refuses it too).
        sa.or_(
            _ATTEMPT.c.retell_call_id.is_(None),
            _ATTEMPT.c.retell_call_id == sa.bindparam("b_call_id"),
        ),
    )
    .values(
        retell_call_id=sa.bindparam("b_call_id"),
        state=_bind("state"),
        analysis_at=sa.func.coalesce(_ATTEMPT.c.analysis_at, _bind("analysis_at")),
        **{name: sa.func.coalesce(_bind(name), _ATTEMPT.c[name]) for name in _KEPT_IF_MISSING},
    )
)


@dataclass(frozen=True)
class RecordedAttempt:
    """The attempt a call view was recorded on."""

    id: int
    contact_id: int
    cost_cents: float | None
    # Its post-call analysis was stored before this view.
    analysed: bool
    # The call is a second one for an attempt that had another (see `record_call_results`).
    duplicate: bool = False


@dataclass
class _Known:
    id: int
    contact_id: int
    state: AttemptState
    cost_cents: float | None
    analysed: bool
    duplicate: bool = False


def record_call_results(
    *,
    session: Session,
    views: Sequence[tuple[Mapping[str, Any], OutcomeClass | None]],
    now: datetime,
) -> list[RecordedAttempt | None]:
    """Merge call views (call objects as dicts, each with its outcome class if known) into their
    attempts, in order.

    Each attempt is found by `call_id`, else by the `attempt` id in the call's metadata (a call
    whose create answer was lost, while that attempt has no call id and is not settled). A call
    whose metadata names an attempt that has another call, or was settled without one, is a
    second call for it: it is recorded on a new row of its own (`duplicate_of` that attempt,
    same contact and number), so it is counted and followed like any call, never dropped.
    None for a view that is not one of ours. Updates never go backwards: a status earlier than
    the stored one is ignored, and fields missing from a view keep their value.
    """
    session.flush()
    connection = session.connection()
    known = _attempts_by_call_id(connection, {call["call_id"] for call, _ in views})
    unclaimed = _attempts_without_call(connection, views, known)
    results: list[RecordedAttempt | None] = []
    rows: list[dict[str, Any]] = []
    for call, outcome in views:
        call_id = call["call_id"]
        attempt = known.get(call_id)
        if attempt is None:
            named = _metadata_attempt_id(call)
            attempt = unclaimed.pop(named or -1, None)
            if attempt is None and named is not None:
                attempt = _record_duplicate(connection, call_id, named, now)
            if attempt is None:
                results.append(None)
                continue
            known[call_id] = attempt
        row = _record_row(call, outcome, now)
        status = call.get("call_status")
        if status in _STATE_RANK and _STATE_RANK[status] >= _STATE_RANK[attempt.state]:
            attempt.state = AttemptState(status)
        if row["v_cost_cents"] is not None:
            attempt.cost_cents = row["v_cost_cents"]
        rows.append({**row, "b_id": attempt.id, "b_call_id": call_id, "v_state": attempt.state})
        results.append(
            RecordedAttempt(
                attempt.id,
                attempt.contact_id,
                attempt.cost_cents,
                attempt.analysed,
                attempt.duplicate,
            )
        )
    if rows:
        connection.execute(_RECORD, rows)
        _expire_loaded(session, CallAttempt, {row["b_id"] for row in rows})
    return results


def _attempts_by_call_id(connection: sa.Connection, call_ids: Collection[str]) -> dict[str, _Known]:
    found: dict[str, _Known] = {}
    columns = (_ATTEMPT.c.retell_call_id, *_known_columns())
    for chunk in chunks(sorted(call_ids), IN_LIST_CHUNK):
        rows = connection.execute(
            sa.select(*columns).where(_ATTEMPT.c.retell_call_id.in_(chunk))
        ).all()
        found.update((row[0], _Known(*row[1:])) for row in rows)
    return found


def _attempts_without_call(
    connection: sa.Connection,
    views: Sequence[tuple[Mapping[str, Any], OutcomeClass | None]],
    known: Mapping[str, _Known],
) -> dict[int, _Known]:
    """Attempts named by the metadata of calls not found by id, if they have no call id yet."""
    wanted = {
        attempt_id
        for call, _ in views
        if call["call_id"] not in known and (attempt_id := _metadata_attempt_id(call)) is not None
    }
    found: dict[int, _Known] = {}
    for chunk in chunks(sorted(wanted), IN_LIST_CHUNK):
        rows = connection.execute(
            sa.select(*_known_columns()).where(
                _ATTEMPT.c.id.in_(chunk),
                _ATTEMPT.c.retell_call_id.is_(None),
                _ATTEMPT.c.finalized.is_(False),
            )
        ).all()
        found.update((row[0], _Known(*row)) for row in rows)
    return found


def _record_duplicate(
    connection: sa.Connection, call_id: str, attempt_id: int, now: datetime
) -> _Known | None:
    """A row for a second call of attempt `attempt_id` (None if there is no such attempt).

    Another process may record the same call at the same time: the insert does nothing then
    (the call id is unique), and the row it wrote is used.
    """
    source = (
        connection.execute(sa.select(_ATTEMPT).where(_ATTEMPT.c.id == attempt_id))
        .mappings()
        .first()
    )
    if source is None:
        return None
    copied = {
        name: source[name]
        for name in (
            "campaign_id",
            "contact_id",
            "attempt_number",
            "variant",
            "agent_id",
            "agent_version",
            "from_number",
            "to_number",
        )
    }
    insert = _insert_ignoring_conflicts(connection).values(
        **copied,
        idempotency_key=f"duplicate-of-{attempt_id}:{call_id}",
        retell_call_id=call_id,
        state=AttemptState.SENT,
        created_at=now,
        sent_at=now,
        finalized=False,
        duplicate_of=attempt_id,
        error_detail=f"a second Retell call for attempt {attempt_id}",
    )
    connection.execute(insert)
    found = _attempts_by_call_id(connection, [call_id])[call_id]
    found.duplicate = True
    return found


def _insert_ignoring_conflicts(connection: sa.Connection) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(_ATTEMPT).on_conflict_do_nothing()
    return sqlite.insert(_ATTEMPT).on_conflict_do_nothing()


def _known_columns() -> tuple[sa.ColumnElement[Any], ...]:
    return (
        _ATTEMPT.c.id,
        _ATTEMPT.c.contact_id,
        _ATTEMPT.c.state,
        _ATTEMPT.c.cost_cents,
        _ATTEMPT.c.analysis_at.is_not(None),
    )


def _metadata_attempt_id(call: Mapping[str, Any]) -> int | None:
    return metadata_attempt_id(call.get("metadata"))


def metadata_attempt_id(metadata: object) -> int | None:
    """The attempt id campaigner put in a call's `metadata` (`"attempt": "42"`), or None when
    there is none or it is malformed: metadata is any JSON Retell echoes, and a call whose
    `attempt` is not a row id (a float, a word, a thousand digits) is simply not matched by it."""
    value = metadata.get("attempt") if isinstance(metadata, Mapping) else None
    if isinstance(value, bool):  # an int to Python, never an id
        return None
    text = str(value) if isinstance(value, str | int) else ""
    # At most 19 digits before int(): Python refuses to convert very long digit strings.
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(_MAX_ROW_ID))):
        return None
    attempt_id = int(text)
    return attempt_id if 0 < attempt_id <= _MAX_ROW_ID else None


def _record_row(
    call: Mapping[str, Any], outcome: OutcomeClass | None, now: datetime
) -> dict[str, Any]:
    analysis = call.get("call_analysis") or {}
    latency = (call.get("latency") or {}).get("e2e") or {}
    return {
        "v_agent_version": call.get("agent_version"),
        "v_disconnection_reason": call.get("disconnection_reason"),
        "v_start_timestamp": _from_epoch_ms(call.get("start_timestamp")),
        "v_end_timestamp": _from_epoch_ms(call.get("end_timestamp")),
        "v_duration_ms": call.get("duration_ms"),
        "v_cost_cents": (call.get("call_cost") or {}).get("combined_cost"),
        "v_latency_e2e_p50_ms": latency.get("p50"),
        "v_latency_e2e_p90_ms": latency.get("p90"),
        "v_call_successful": analysis.get("call_successful"),
        "v_user_sentiment": analysis.get("user_sentiment"),
        "v_in_voicemail": analysis.get("in_voicemail"),
        "v_call_summary": analysis.get("call_summary"),
        "v_custom_analysis": analysis.get("custom_analysis_data"),
        "v_recording_url": call.get("recording_url"),
        "v_public_log_url": call.get("public_log_url"),
        "v_transcript": call.get("transcript"),
        "v_outcome_class": outcome,
        "v_analysis_at": now if analysis else None,
    }


def _from_epoch_ms(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, int | float):
        raise StoreError(f"expected an epoch-milliseconds timestamp, got {value!r}")
    return datetime.fromtimestamp(value / 1000, UTC)


def finalize_attempts(*, session: Session, outcomes: Mapping[int, OutcomeClass]) -> set[int]:
    """Mark attempts final with their outcome class, once each.

    Returns the ids this call made final; an attempt already final (a second sync, webhook or
    process got there first) is left alone, so only one of them settles the contact. The flag is
    flipped by a conditional UPDATE, which PostgreSQL and SQLite both serialise.
    """
    session.flush()
    connection = session.connection()
    by_outcome: dict[OutcomeClass, list[int]] = defaultdict(list)
    for attempt_id, outcome in outcomes.items():
        by_outcome[outcome].append(attempt_id)
    won: set[int] = set()
    for outcome, attempt_ids in by_outcome.items():
        for chunk in chunks(sorted(attempt_ids), IN_LIST_CHUNK):
            result = connection.execute(
                _ATTEMPT.update()
                .where(_ATTEMPT.c.id.in_(chunk), _ATTEMPT.c.finalized.is_(False))
                .values(finalized=True, outcome_class=outcome)
                .returning(_ATTEMPT.c.id)
            )
            won.update(result.scalars())
    _expire_loaded(session, CallAttempt, won)
    return won


@dataclass
class ContactFacts:
    """What settling a contact's attempt needs to know about the contact."""

    phone_e164: str
    attempts_made: int
    attempts_by_outcome: dict[OutcomeClass, int] = field(default_factory=dict)


def settling_facts(*, session: Session, contact_ids: Collection[int]) -> dict[int, ContactFacts]:
    """Each contact's number, counted attempts and attempts per outcome class, as stored now."""
    session.flush()
    connection = session.connection()
    facts: dict[int, ContactFacts] = {}
    for chunk in chunks(sorted(set(contact_ids)), IN_LIST_CHUNK):
        for contact_id, phone, made in connection.execute(
            sa.select(_CONTACT.c.id, _CONTACT.c.phone_e164, _CONTACT.c.attempts_made).where(
                _CONTACT.c.id.in_(chunk)
            )
        ):
            facts[contact_id] = ContactFacts(phone, made)
        for contact_id, outcome, count in connection.execute(
            sa.select(_ATTEMPT.c.contact_id, _ATTEMPT.c.outcome_class, sa.func.count())
            .where(_ATTEMPT.c.contact_id.in_(chunk), _ATTEMPT.c.outcome_class.is_not(None))
            .group_by(_ATTEMPT.c.contact_id, _ATTEMPT.c.outcome_class)
        ):
            facts[contact_id].attempts_by_outcome[OutcomeClass(outcome)] = count
    missing = set(contact_ids) - facts.keys()
    if missing:
        raise StoreError(f"no contact with id {min(missing)}")
    return facts


@dataclass(frozen=True)
class Settlement:
    """How one contact's attempt closes: `next_attempt_at` for a retry, None when it is done."""

    contact_id: int
    outcome: OutcomeClass
    counted: bool
    next_attempt_at: datetime | None


_SETTLE = (
    _CONTACT.update()
    .where(_CONTACT.c.id == sa.bindparam("b_id"))
    .values(
        attempts_made=_CONTACT.c.attempts_made + sa.bindparam("b_counted"),
        status=sa.bindparam("v_status", type_=_CONTACT.c.status.type),
        final_outcome=sa.func.coalesce(
            sa.bindparam("v_final", type_=_CONTACT.c.final_outcome.type),
            _CONTACT.c.final_outcome,
        ),
        next_attempt_at=sa.func.coalesce(
            sa.bindparam("v_next", type_=_CONTACT.c.next_attempt_at.type),
            _CONTACT.c.next_attempt_at,
        ),
        updated_at=sa.bindparam("v_now", type_=_CONTACT.c.updated_at.type),
    )
)


def settle_contacts(*, session: Session, settlements: Sequence[Settlement], now: datetime) -> None:
    """Close contacts' attempts: schedule each retry, or finish the contact.

    With `next_attempt_at` a contact waits for a retry (or becomes `cancelled` if its campaign was
    cancelled meanwhile); without, it is `done` with its outcome as the final outcome. `counted`
    adds one to `attempts_made` (capacity errors, which never rang, are not counted).
    """
    if not settlements:
        return
    session.flush()
    connection = session.connection()
    ids = {settlement.contact_id for settlement in settlements}
    cancelled: set[int] = set()
    for chunk in chunks(sorted(ids), IN_LIST_CHUNK):
        cancelled.update(
            connection.execute(
                sa.select(_CONTACT.c.id)
                .join(_CAMPAIGN, _CAMPAIGN.c.id == _CONTACT.c.campaign_id)
                .where(_CONTACT.c.id.in_(chunk), _CAMPAIGN.c.status == CampaignStatus.CANCELLED)
            ).scalars()
        )
    rows = [_settle_row(each, each.contact_id in cancelled, now) for each in settlements]
    connection.execute(_SETTLE, rows)
    _expire_loaded(session, Contact, ids)


def _settle_row(settlement: Settlement, cancelled: bool, now: datetime) -> dict[str, Any]:
    retry_at = settlement.next_attempt_at
    if retry_at is None:
        status = ContactStatus.DONE
    elif cancelled:
        status, retry_at = ContactStatus.CANCELLED, None
    else:
        status = ContactStatus.WAITING_RETRY
    return {
        "b_id": settlement.contact_id,
        "b_counted": 1 if settlement.counted else 0,
        "v_status": status,
        "v_final": settlement.outcome if status is ContactStatus.DONE else None,
        "v_next": retry_at,
        "v_now": now,
    }


def _expire_loaded(session: Session, model: type[Any], ids: Collection[int]) -> None:
    """Core statements bypass the session: let objects it already holds re-read these rows."""
    mapper = sa.inspect(model)
    for row_id in ids:
        loaded = session.identity_map.get(mapper.identity_key_from_primary_key([row_id]))
        if loaded is not None:
            session.expire(loaded)
