"""Every read and write of the outcome store: plain functions with keyword-only arguments.

Nothing outside `campaigner.store` writes SQL. Transactions belong to the caller, with one rule:

- The dial path commits, because its effect must be durable before the caller acts on it:
  `claim_due_contacts` (a lease before dialing), `create_attempt` (the attempt row and its
  idempotency key before the create request), `mark_attempt_sent` and `mark_attempt_send_failed`.
- Everything else only flushes: the caller commits (`session.commit()` or `with session.begin():`),
  so that, for example, a whole file's import is all-or-nothing.

Timestamps passed in must be timezone-aware; `now` defaults to the current UTC time. Inserts of
rows that may already exist go through `campaigner.store.bulk` (batches, ON CONFLICT DO NOTHING on
both backends), so repeating one is harmless; large IN lists are split into chunks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from sqlmodel import Session, col, select
from typing_extensions import TypedDict

from campaigner.campaign import CampaignConfig, OutcomeClass
from campaigner.store.bulk import bulk_insert, bulk_insert_columns, chunks
from campaigner.store.errors import CampaignNotFound, LeaseLost, StatusChangeError, StoreError
from campaigner.store.models import (
    CLAIMABLE_STATUSES,
    LIVE_ATTEMPT_STATES,
    AttemptState,
    Batch,
    BatchState,
    CallAttempt,
    Campaign,
    CampaignStatus,
    Contact,
    ContactStatus,
    RejectedRow,
    SourceFile,
    Suppression,
)
from campaigner.store.types import utcnow

__all__ = [
    "INSERT_BATCH_SIZE",
    "BatchProgress",
    "CampaignCounts",
    "add_suppressions",
    "attempts_without_call_id",
    "batch_progress",
    "batch_sync_watermark",
    "calls_to_number_since",
    "campaign_counts",
    "campaign_status",
    "claim_due_contacts",
    "claimable_timezone_sets",
    "count_attempts_with_outcome",
    "create_attempt",
    "create_batch",
    "create_source_file",
    "existing_contact_numbers",
    "finalize_attempt",
    "find_source_file",
    "get_campaign_by_name",
    "get_contact",
    "insert_contact_columns",
    "insert_contacts",
    "insert_rejected_rows",
    "list_campaigns",
    "list_suppressions",
    "mark_attempt_send_failed",
    "mark_attempt_sent",
    "mark_batch_send_failed",
    "mark_batch_sent",
    "next_due_time",
    "open_batches",
    "record_call_result",
    "release_contacts",
    "remove_suppression",
    "set_campaign_status",
    "settle_contact",
    "suppressed_numbers",
    "timezone_key",
    "unfinished_attempts",
    "update_source_file_counts",
    "upsert_campaign",
]

INSERT_BATCH_SIZE = 5_000
"""Rows per bulk insert statement (see bench/store_throughput.py for the measured trade-off)."""

_IN_LIST_CHUNK = 2_000  # well under SQLite's 32,766 bound parameters per statement


def _saved_id(row: Contact | Campaign) -> int:
    if row.id is None:
        raise StoreError(f"this {type(row).__name__} has not been saved yet")
    return row.id


def _table(model: type[Any]) -> sa.Table:
    table: sa.Table = model.__table__
    return table


# --- campaigns ------------------------------------------------------------------------------------


def get_campaign_by_name(*, session: Session, name: str) -> Campaign | None:
    """The campaign with this name, or None."""
    return session.exec(select(Campaign).where(Campaign.name == name)).first()


def list_campaigns(*, session: Session) -> list[Campaign]:
    """Every campaign, by name."""
    return list(session.exec(select(Campaign).order_by(col(Campaign.name))))


def campaign_status(*, session: Session, campaign_id: int) -> CampaignStatus | None:
    """The campaign's status as stored now (another process may have just paused it), or None."""
    return session.exec(select(col(Campaign.status)).where(col(Campaign.id) == campaign_id)).first()


def upsert_campaign(
    *, session: Session, config: CampaignConfig, now: datetime | None = None
) -> Campaign:
    """Create the campaign named by `config`, or update its stored configuration. Flushes only.

    Safe when two processes register the same new campaign at once (ON CONFLICT on the name).
    """
    now = now or utcnow()
    stored = config.model_dump(mode="json")
    sha = config.config_sha256()
    bulk_insert(
        session,
        _table(Campaign),
        ("name", "config", "config_sha256", "status", "created_at", "updated_at"),
        [(config.name, stored, sha, CampaignStatus.ACTIVE, now, now)],
        conflict=("name",),
        batch_size=1,
    )
    campaign = session.exec(
        select(Campaign)
        .where(Campaign.name == config.name)
        .execution_options(populate_existing=True)
    ).one()
    if campaign.config_sha256 != sha:
        campaign.config = stored
        campaign.config_sha256 = sha
        campaign.updated_at = now
        session.add(campaign)
        session.flush()
    return campaign


_ALLOWED_STATUS_CHANGES = {
    CampaignStatus.ACTIVE: {
        CampaignStatus.PAUSED,
        CampaignStatus.CANCELLED,
        CampaignStatus.COMPLETED,
    },
    CampaignStatus.PAUSED: {CampaignStatus.ACTIVE, CampaignStatus.CANCELLED},
    CampaignStatus.COMPLETED: {CampaignStatus.ACTIVE, CampaignStatus.CANCELLED},
    CampaignStatus.CANCELLED: set(),
}


def set_campaign_status(
    *,
    session: Session,
    name: str,
    status: CampaignStatus,
    reason: str | None,
    now: datetime | None = None,
) -> Campaign:
    """Pause, resume, complete or cancel a campaign. Flushes only; commit to make it visible.

    Setting the status it already has only updates the reason. Cancelling also cancels the
    contacts still waiting to be dialed; contacts in a call finish it. A cancelled campaign stays
    cancelled (`StatusChangeError`); an unknown name raises `CampaignNotFound`.
    """
    now = now or utcnow()
    campaign = get_campaign_by_name(session=session, name=name)
    if campaign is None:
        raise CampaignNotFound(f"no campaign named {name!r}")
    if status != campaign.status and status not in _ALLOWED_STATUS_CHANGES[campaign.status]:
        raise StatusChangeError(
            f"campaign {name!r} is {campaign.status.value}; it cannot become {status.value}"
        )
    campaign.status = status
    campaign.status_reason = reason
    campaign.updated_at = now
    session.add(campaign)
    if status == CampaignStatus.CANCELLED:
        session.exec(
            sa.update(Contact)
            .where(
                col(Contact.campaign_id) == campaign.id, col(Contact.status).in_(CLAIMABLE_STATUSES)
            )
            .values(status=ContactStatus.CANCELLED, updated_at=now)
        )
    session.flush()
    return campaign


class CampaignCounts(TypedDict):
    """Progress of one campaign, as counted by `campaign_counts`."""

    contacts: int
    contacts_by_status: dict[str, int]
    final_outcomes: dict[str, int]
    attempts: int
    attempts_by_state: dict[str, int]
    attempts_by_outcome: dict[str, int]
    cost_cents: float


def campaign_counts(*, session: Session, campaign_id: int) -> CampaignCounts:
    """Contacts by status and final outcome, attempts by state and outcome, and total cost."""
    contacts = session.exec(
        select(col(Contact.status), col(Contact.final_outcome), sa.func.count())
        .where(col(Contact.campaign_id) == campaign_id)
        .group_by(col(Contact.status), col(Contact.final_outcome))
    ).all()
    attempts = session.exec(
        select(
            col(CallAttempt.state),
            col(CallAttempt.outcome_class),
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(col(CallAttempt.cost_cents)), 0.0),
        )
        .where(col(CallAttempt.campaign_id) == campaign_id)
        .group_by(col(CallAttempt.state), col(CallAttempt.outcome_class))
    ).all()
    counts = CampaignCounts(
        contacts=0,
        contacts_by_status={},
        final_outcomes={},
        attempts=0,
        attempts_by_state={},
        attempts_by_outcome={},
        cost_cents=0.0,
    )
    for status, outcome, count in contacts:
        counts["contacts"] += count
        _add(counts["contacts_by_status"], status, count)
        _add(counts["final_outcomes"], outcome, count)
    for state, outcome, count, cost in attempts:
        counts["attempts"] += count
        counts["cost_cents"] += cost or 0.0
        _add(counts["attempts_by_state"], state, count)
        _add(counts["attempts_by_outcome"], outcome, count)
    return counts


def _add(totals: dict[str, int], key: str | None, count: int) -> None:
    if key is not None:
        totals[str(key)] = totals.get(str(key), 0) + count


# --- ingest: source files, contacts, rejected rows ------------------------------------------------


def find_source_file(*, session: Session, campaign_id: int, sha256: str) -> SourceFile | None:
    """The import of a file with these bytes into this campaign, if there was one."""
    return session.exec(
        select(SourceFile).where(SourceFile.campaign_id == campaign_id, SourceFile.sha256 == sha256)
    ).first()


def create_source_file(
    *, session: Session, campaign_id: int, path: str, sha256: str, now: datetime | None = None
) -> SourceFile:
    """Record a file being imported (counts come later). Flushes only, so the id is known."""
    source = SourceFile(
        campaign_id=campaign_id, path=path, sha256=sha256, created_at=now or utcnow()
    )
    session.add(source)
    session.flush()
    return source


def update_source_file_counts(
    *,
    session: Session,
    source_file_id: int,
    rows_read: int,
    accepted: int,
    rejected: int,
    duplicates: int,
    suppressed: int,
) -> None:
    """Store how a file's rows were accounted for. Flushes only."""
    session.exec(
        sa.update(SourceFile)
        .where(col(SourceFile.id) == source_file_id)
        .values(
            rows_read=rows_read,
            accepted=accepted,
            rejected=rejected,
            duplicates=duplicates,
            suppressed=suppressed,
        )
    )


def timezone_key(timezones: Collection[str]) -> str:
    """The canonical text of a set of candidate timezones (sorted, `|`-joined), stored per contact.

    Contacts with the same candidate zones share a key, so the dialer can evaluate the calling
    window once per key and claim only contacts whose every zone is inside it.
    """
    return "|".join(sorted(set(timezones)))


# The fields a caller gives for a contact; the first five are required, the rest have defaults.
_CONTACT_FIELDS = (
    "campaign_id",
    "source_file_id",
    "row_number",
    "phone_e164",
    "timezones",
    "country",
    "number_type",
    "external_id",
    "dynamic_variables",
    "extra_metadata",
    "original",
    "variant",
    "status",
)
_CONTACT_REQUIRED_KEYS = frozenset(_CONTACT_FIELDS[:5])
_CONTACT_KEYS = frozenset(_CONTACT_FIELDS)
_CONTACT_JSON_FIELDS = ("dynamic_variables", "extra_metadata", "original")


def insert_contacts(
    *,
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    now: datetime | None = None,
    batch_size: int = INSERT_BATCH_SIZE,
) -> int:
    """Insert contacts in batches; a number already in the campaign is skipped. Flushes only.

    Each row has campaign_id, source_file_id, row_number, phone_e164 and timezones (list of IANA
    names), and may have country, number_type, external_id, dynamic_variables, extra_metadata,
    original, variant and status ("pending", the default, or "suppressed"). Returns the number of
    rows inserted. `insert_contact_columns` takes the same fields column by column, faster.
    """
    for row in rows:
        keys = row.keys()
        if not (keys <= _CONTACT_KEYS and keys >= _CONTACT_REQUIRED_KEYS):
            missing = sorted(_CONTACT_REQUIRED_KEYS - keys)
            unknown = sorted(keys - _CONTACT_KEYS)
            raise ValueError(
                f"contact row {row.get('row_number')}: missing {missing}, unknown {unknown}"
            )
    columns: dict[str, list[Any]] = {
        name: [row.get(name) for row in rows] for name in _CONTACT_FIELDS
    }
    for name in _CONTACT_JSON_FIELDS:
        columns[name] = [value or {} for value in columns[name]]
    columns["status"] = [status or ContactStatus.PENDING for status in columns["status"]]
    return insert_contact_columns(session=session, columns=columns, now=now, batch_size=batch_size)


def insert_contact_columns(
    *,
    session: Session,
    columns: Mapping[str, Sequence[Any]],
    now: datetime | None = None,
    batch_size: int = INSERT_BATCH_SIZE,
) -> int:
    """Insert contacts given column by column: `columns` maps the fields `insert_contacts` takes
    to one value per contact (sequences of the same length). A field left out gets its default
    (None; {} for dynamic_variables, extra_metadata and original; "pending" for status).
    Returns the number inserted; a number already in the campaign is skipped. Flushes only.
    """
    keys = columns.keys()
    if not (keys <= _CONTACT_KEYS and keys >= _CONTACT_REQUIRED_KEYS):
        missing = sorted(_CONTACT_REQUIRED_KEYS - keys)
        unknown = sorted(keys - _CONTACT_KEYS)
        raise ValueError(f"contact columns: missing {missing}, unknown {unknown}")
    given = dict(columns)
    zones_by_key: dict[tuple[str, ...], str] = {}
    given["timezone_key"] = [
        zones_by_key.get(zones) or zones_by_key.setdefault(zones, timezone_key(zones))
        for zones in map(tuple, columns["timezones"])
    ]
    if "status" in given:
        statuses: dict[Any, ContactStatus] = {}
        given["status"] = [
            statuses.get(status) or statuses.setdefault(status, ContactStatus(status))
            for status in given["status"]
        ]
    stamp = now or utcnow()
    defaults: dict[str, Any] = {name: None for name in _CONTACT_FIELDS if name not in given}
    defaults |= {name: {} for name in _CONTACT_JSON_FIELDS if name not in given}
    if "status" not in given:
        defaults["status"] = ContactStatus.PENDING
    return bulk_insert_columns(
        session,
        _table(Contact),
        given,
        # Due from its import: claims take contacts in order of due time.
        constants=defaults
        | {"attempts_made": 0, "next_attempt_at": stamp, "created_at": stamp, "updated_at": stamp},
        conflict=("campaign_id", "phone_e164"),
        batch_size=batch_size,
    )


_REJECTED_COLUMNS = ("campaign_id", "source_file_id", "row_number", "reason", "detail", "raw")


def insert_rejected_rows(*, session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rejected input rows (campaign_id, source_file_id, row_number, reason, detail, raw).

    A row already recorded for the same file and row number is skipped. Flushes only; returns the
    number inserted.
    """
    for row in rows:
        if row.keys() != set(_REJECTED_COLUMNS):
            expected = ", ".join(sorted(_REJECTED_COLUMNS))
            raise ValueError(f"rejected row {row.get('row_number')}: expected keys {expected}")
    return bulk_insert(
        session,
        _table(RejectedRow),
        _REJECTED_COLUMNS,
        [tuple(row[name] for name in _REJECTED_COLUMNS) for row in rows],
        conflict=("source_file_id", "row_number"),
        batch_size=INSERT_BATCH_SIZE,
    )


def existing_contact_numbers(
    *, session: Session, campaign_id: int, numbers: Collection[str]
) -> set[str]:
    """Which of `numbers` (E.164) are already contacts of the campaign."""
    found: set[str] = set()
    for chunk in chunks(sorted(set(numbers)), _IN_LIST_CHUNK):
        found.update(
            session.exec(
                select(Contact.phone_e164).where(
                    Contact.campaign_id == campaign_id, col(Contact.phone_e164).in_(chunk)
                )
            )
        )
    return found


# --- suppression (the do-not-call list) -----------------------------------------------------------


def suppressed_numbers(*, session: Session, numbers: Collection[str]) -> dict[str, str]:
    """Which of `numbers` (E.164) are on the do-not-call list, with the reason for each."""
    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(numbers)), _IN_LIST_CHUNK):
        found.update(
            session.exec(
                select(Suppression.phone_e164, Suppression.reason).where(
                    col(Suppression.phone_e164).in_(chunk)
                )
            ).all()
        )
    return found


def add_suppressions(
    *,
    session: Session,
    entries: Sequence[tuple[str, str, str]],
    campaign_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Add (number, reason, source) entries to the do-not-call list. Flushes only.

    A number already on the list keeps its first entry. Returns how many numbers were added.
    """
    now = now or utcnow()
    return bulk_insert(
        session,
        _table(Suppression),
        ("phone_e164", "reason", "source", "campaign_id", "created_at"),
        [(number, reason, source, campaign_id, now) for number, reason, source in entries],
        conflict=("phone_e164",),
        batch_size=INSERT_BATCH_SIZE,
    )


def list_suppressions(
    *, session: Session, limit: int | None = None, offset: int = 0
) -> list[Suppression]:
    """The do-not-call list, oldest entries first."""
    statement = (
        select(Suppression)
        .order_by(col(Suppression.created_at), col(Suppression.phone_e164))
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(statement))


def remove_suppression(*, session: Session, number: str) -> bool:
    """Take a number off the do-not-call list. True if it was on it. Flushes only."""
    result = session.exec(sa.delete(Suppression).where(col(Suppression.phone_e164) == number))
    return result.rowcount > 0


# --- dialing: claims, attempts, results -----------------------------------------------------------


def get_contact(*, session: Session, contact_id: int) -> Contact:
    """The contact with this id, as stored now; `StoreError` when there is none."""
    contact = session.get(Contact, contact_id, populate_existing=True)
    if contact is None:
        raise StoreError(f"no contact with id {contact_id}")
    return contact


def next_due_time(*, session: Session, campaign_id: int) -> datetime | None:
    """When the campaign's next contact is due, ignoring calling windows; None if none can be."""
    return session.exec(
        select(sa.func.min(col(Contact.next_attempt_at))).where(
            col(Contact.campaign_id) == campaign_id, col(Contact.status).in_(CLAIMABLE_STATUSES)
        )
    ).one()


def claimable_timezone_sets(*, session: Session, campaign_id: int) -> list[tuple[str, ...]]:
    """The distinct candidate-timezone sets of the campaign's contacts that could still be dialed.

    The dialer checks its calling window once per set and passes the open ones to
    `claim_due_contacts(timezones=...)`.
    """
    keys = session.exec(
        select(Contact.timezone_key)
        .where(Contact.campaign_id == campaign_id, col(Contact.status).in_(CLAIMABLE_STATUSES))
        .distinct()
    )
    return sorted(tuple(key.split("|")) if key else () for key in keys)


def claim_due_contacts(
    *,
    session: Session,
    campaign_id: int,
    now: datetime,
    limit: int,
    lease_owner: str,
    lease_seconds: float,
    timezones: Collection[Collection[str]] | None = None,
) -> list[Contact]:
    """Lease up to `limit` contacts that are due to be dialed, atomically. Commits.

    A contact is due when its campaign is active, it is pending or waiting for a retry, its
    `next_attempt_at` has come (a new contact is due from its import), its number is not
    suppressed and not in a live call (in any campaign), and nobody holds an unexpired lease on it.
    With `timezones`, only contacts whose candidate-zone set is one of those given are claimed.
    The longest due come first, then by id (file order).

    Two claimers never get the same contact: on PostgreSQL the rows are locked with
    FOR UPDATE SKIP LOCKED; on SQLite the single UPDATE ... RETURNING runs under the write lock.
    """
    if timezones is not None and any(isinstance(zones, str) for zones in timezones):
        raise TypeError("timezones is a collection of zone sets, e.g. [('America/New_York',)]")
    if limit <= 0 or (timezones is not None and not timezones):
        return []
    suppressed = sa.exists().where(col(Suppression.phone_e164) == col(Contact.phone_e164))
    in_live_call = sa.exists().where(
        col(CallAttempt.to_number) == col(Contact.phone_e164),
        col(CallAttempt.state).in_(LIVE_ATTEMPT_STATES),
    )
    campaign_active = sa.exists().where(
        col(Campaign.id) == col(Contact.campaign_id),
        col(Campaign.status) == CampaignStatus.ACTIVE,
    )
    due = (
        sa.select(col(Contact.id))
        .where(
            col(Contact.campaign_id) == campaign_id,
            # Inline values, so the planners can match the partial index ix_contact_due.
            col(Contact.status).in_(
                sa.bindparam("claimable", CLAIMABLE_STATUSES, expanding=True, literal_execute=True)
            ),
            col(Contact.next_attempt_at) <= now,
            sa.or_(col(Contact.lease_expires_at).is_(None), col(Contact.lease_expires_at) <= now),
            ~suppressed,
            ~in_live_call,
            campaign_active,
        )
        .order_by(col(Contact.next_attempt_at), col(Contact.id))
        .limit(limit)
    )
    if timezones is not None:
        due = due.where(col(Contact.timezone_key).in_({timezone_key(z) for z in timezones}))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claim = (
        sa.update(Contact)
        .where(col(Contact.id).in_(due.scalar_subquery()))
        .values(
            lease_owner=lease_owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            updated_at=now,
        )
        .returning(Contact)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    claimed = list(session.exec(claim).scalars())
    session.commit()
    return sorted(claimed, key=_claim_order)


def _claim_order(contact: Contact) -> tuple[datetime, int]:
    return (contact.next_attempt_at, contact.id or 0)


def release_contacts(
    *,
    session: Session,
    contact_ids: Collection[int],
    lease_owner: str,
    next_attempt_at: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """Give back leases this owner holds without dialing (e.g. a cap was reached). Flushes only.

    With `next_attempt_at`, the contacts are not due again before then. Returns how many were
    released.
    """
    now = now or utcnow()
    values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None, "updated_at": now}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    released = 0
    for chunk in chunks(sorted(contact_ids), _IN_LIST_CHUNK):
        result = session.exec(
            sa.update(Contact)
            .where(col(Contact.id).in_(chunk), col(Contact.lease_owner) == lease_owner)
            .values(**values)
        )
        released += result.rowcount
    return released


def _start_dialing(contact_ids: Sequence[int], *, lease_owner: str, now: datetime) -> sa.Update:
    """Contacts still leased by `lease_owner` become `dialing`, their leases released."""
    return (
        sa.update(Contact)
        .where(
            col(Contact.id).in_(contact_ids),
            col(Contact.lease_owner) == lease_owner,
            col(Contact.status).in_(CLAIMABLE_STATUSES),
        )
        .values(
            status=ContactStatus.DIALING, lease_owner=None, lease_expires_at=None, updated_at=now
        )
    )


def create_attempt(
    *,
    session: Session,
    contact: Contact,
    lease_owner: str,
    agent_id: str,
    agent_version: int | None,
    from_number: str,
    variant: str | None = None,
    batch_id: int | None = None,
    now: datetime | None = None,
) -> CallAttempt:
    """Write the next attempt for a leased contact, with a fresh idempotency key. Commits.

    Must be committed before the create request is sent: after a crash the row (and its key) is
    how the call is found again. The contact becomes `dialing` and its lease is released. If the
    lease is no longer `lease_owner`'s (it expired and another worker claimed the contact), nothing
    is written and `LeaseLost` is raised: that worker dials, this one must not.
    """
    now = now or utcnow()
    contact_id = _saved_id(contact)
    taken = session.exec(_start_dialing([contact_id], lease_owner=lease_owner, now=now))
    if taken.rowcount != 1:
        session.rollback()
        raise LeaseLost(f"contact {contact_id} is no longer leased by {lease_owner!r}")
    previous = session.exec(
        select(sa.func.max(CallAttempt.attempt_number)).where(CallAttempt.contact_id == contact_id)
    ).one()
    attempt = CallAttempt(
        campaign_id=contact.campaign_id,
        contact_id=contact_id,
        attempt_number=(previous or 0) + 1,
        idempotency_key=f"campaigner-{uuid4().hex}",
        batch_id=batch_id,
        variant=variant,
        agent_id=agent_id,
        agent_version=agent_version,
        from_number=from_number,
        to_number=contact.phone_e164,
        created_at=now,
    )
    session.add(attempt)
    session.commit()
    if contact in session:
        session.refresh(contact)
    return attempt


def mark_attempt_sent(
    *, session: Session, attempt_id: int, retell_call_id: str, sent_at: datetime | None = None
) -> None:
    """Record the call_id Retell gave for an attempt's create request. Commits."""
    session.exec(
        sa.update(CallAttempt)
        .where(
            col(CallAttempt.id) == attempt_id,
            col(CallAttempt.state).in_([AttemptState.PENDING_SEND, AttemptState.AMBIGUOUS]),
        )
        .values(retell_call_id=retell_call_id, state=AttemptState.SENT, sent_at=sent_at or utcnow())
    )
    session.commit()


def mark_attempt_send_failed(
    *,
    session: Session,
    attempt_id: int,
    ambiguous: bool,
    detail: str,
    outcome_class: OutcomeClass | None = None,
) -> None:
    """Record a create request that failed. Commits.

    `ambiguous=True`: the request may have placed a call (timeout, lost connection): the attempt
    must be reconciled before the contact is dialed again. `ambiguous=False`: Retell refused it and
    no call exists (state `error`, with the outcome class the dialer chose).
    """
    session.exec(
        sa.update(CallAttempt)
        .where(
            col(CallAttempt.id) == attempt_id,
            col(CallAttempt.state).in_([AttemptState.PENDING_SEND, AttemptState.AMBIGUOUS]),
        )
        .values(
            state=AttemptState.AMBIGUOUS if ambiguous else AttemptState.ERROR,
            error_detail=detail,
            outcome_class=outcome_class,
        )
    )
    session.commit()


def attempts_without_call_id(*, session: Session, campaign_id: int) -> list[CallAttempt]:
    """Attempts whose create request may or may not have placed a call: reconcile these first.

    Tasks of batches are left out: a batch is reconciled as a whole, never replayed call by call.
    """
    return list(
        session.exec(
            select(CallAttempt)
            .where(
                CallAttempt.campaign_id == campaign_id,
                col(CallAttempt.batch_id).is_(None),
                col(CallAttempt.retell_call_id).is_(None),
                col(CallAttempt.state).in_([AttemptState.PENDING_SEND, AttemptState.AMBIGUOUS]),
            )
            .order_by(col(CallAttempt.id))
        )
    )


def unfinished_attempts(*, session: Session, campaign_id: int) -> list[CallAttempt]:
    """Attempts with a Retell call that are not final yet: the calls a dialer has to follow."""
    return list(
        session.exec(
            select(CallAttempt)
            .where(
                CallAttempt.campaign_id == campaign_id,
                col(CallAttempt.retell_call_id).is_not(None),
                col(CallAttempt.finalized).is_(False),
            )
            .order_by(col(CallAttempt.id))
        )
    )


def finalize_attempt(*, session: Session, attempt_id: int, outcome_class: OutcomeClass) -> bool:
    """Mark an attempt final with its outcome class, once. Flushes only.

    True for the caller that made it final; False when it already was (a second sync, webhook or
    process got there first), so only one of them settles the contact. The flag is flipped by one
    conditional UPDATE, which PostgreSQL and SQLite both serialise.
    """
    result = session.exec(
        sa.update(CallAttempt)
        .where(col(CallAttempt.id) == attempt_id, col(CallAttempt.finalized).is_(False))
        .values(finalized=True, outcome_class=outcome_class)
    )
    return result.rowcount == 1


def count_attempts_with_outcome(*, session: Session, contact_id: int, outcome: OutcomeClass) -> int:
    """How many of the contact's attempts ended with this outcome class."""
    return session.exec(
        select(sa.func.count()).where(
            col(CallAttempt.contact_id) == contact_id, col(CallAttempt.outcome_class) == outcome
        )
    ).one()


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


def record_call_result(
    *,
    session: Session,
    call: Mapping[str, Any],
    outcome_class: OutcomeClass | None = None,
    now: datetime | None = None,
) -> CallAttempt | None:
    """Merge what Retell says about a call (a call object as a dict) into its attempt. Flushes only.

    The attempt is found by `call_id`, else by the `attempt` id in the call's metadata (a call
    whose create answer was lost). Returns None for a call that is not one of ours. Updates never
    go backwards: a status earlier than the stored one is ignored, and fields missing from this
    view of the call (list-calls has no transcript; `call_ended` has no analysis) keep their value.
    """
    now = now or utcnow()
    attempt = _attempt_for_call(session, call)
    if attempt is None:
        return None
    attempt.retell_call_id = call["call_id"]
    status = call.get("call_status")
    if status in _STATE_RANK and _STATE_RANK[AttemptState(status)] >= _STATE_RANK[attempt.state]:
        attempt.state = AttemptState(status)
    analysis = call.get("call_analysis") or {}
    latency = (call.get("latency") or {}).get("e2e") or {}
    updates = {
        "agent_version": call.get("agent_version"),
        "disconnection_reason": call.get("disconnection_reason"),
        "start_timestamp": _from_epoch_ms(call.get("start_timestamp")),
        "end_timestamp": _from_epoch_ms(call.get("end_timestamp")),
        "duration_ms": call.get("duration_ms"),
        "cost_cents": (call.get("call_cost") or {}).get("combined_cost"),
        "latency_e2e_p50_ms": latency.get("p50"),
        "latency_e2e_p90_ms": latency.get("p90"),
        "call_successful": analysis.get("call_successful"),
        "user_sentiment": analysis.get("user_sentiment"),
        "in_voicemail": analysis.get("in_voicemail"),
        "call_summary": analysis.get("call_summary"),
        "custom_analysis": analysis.get("custom_analysis_data"),
        "recording_url": call.get("recording_url"),
        "public_log_url": call.get("public_log_url"),
        "transcript": call.get("transcript"),
        "outcome_class": outcome_class,
    }
    for field, value in updates.items():
        if value is not None:
            setattr(attempt, field, value)
    if analysis and attempt.analysis_at is None:
        attempt.analysis_at = now
    session.add(attempt)
    session.flush()
    return attempt


def _attempt_for_call(session: Session, call: Mapping[str, Any]) -> CallAttempt | None:
    attempt = session.exec(
        select(CallAttempt).where(CallAttempt.retell_call_id == call["call_id"])
    ).first()
    if attempt is not None:
        return attempt
    metadata = call.get("metadata")
    attempt_id = metadata.get("attempt") if isinstance(metadata, Mapping) else None
    if attempt_id is None or not str(attempt_id).isdigit():
        return None
    candidate = session.get(CallAttempt, int(attempt_id))
    if candidate is None or candidate.retell_call_id is not None:
        return None
    return candidate


def _from_epoch_ms(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, int | float):
        raise StoreError(f"expected an epoch-milliseconds timestamp, got {value!r}")
    return datetime.fromtimestamp(value / 1000, UTC)


def settle_contact(
    *,
    session: Session,
    contact_id: int,
    outcome: OutcomeClass,
    counted: bool,
    next_attempt_at: datetime | None,
    now: datetime | None = None,
) -> Contact:
    """Close a contact's attempt: schedule its retry, or finish it with a final outcome. Flushes.

    With `next_attempt_at` the contact waits for a retry (or becomes `cancelled` if its campaign
    was cancelled meanwhile); without, it is `done` with `outcome` as its final outcome. `counted`
    adds one to `attempts_made` (capacity errors, which never rang, are not counted).
    """
    now = now or utcnow()
    contact = session.get(Contact, contact_id, populate_existing=True)
    if contact is None:
        raise StoreError(f"no contact with id {contact_id}")
    campaign = session.get(Campaign, contact.campaign_id, populate_existing=True)
    if counted:
        contact.attempts_made += 1
    if next_attempt_at is None:
        contact.status = ContactStatus.DONE
        contact.final_outcome = outcome
    elif campaign is not None and campaign.status == CampaignStatus.CANCELLED:
        contact.status = ContactStatus.CANCELLED
    else:
        contact.status = ContactStatus.WAITING_RETRY
        contact.next_attempt_at = next_attempt_at
    contact.updated_at = now
    session.add(contact)
    session.flush()
    return contact


def calls_to_number_since(
    *, session: Session, numbers: Collection[str], since: datetime
) -> dict[str, int]:
    """Attempts to each number since `since`, across ALL campaigns (for per-number caps).

    Attempts that failed for lack of capacity never rang and are not counted. Numbers without
    attempts are absent from the result.
    """
    counts: dict[str, int] = {}
    for chunk in chunks(sorted(set(numbers)), _IN_LIST_CHUNK):
        rows = session.exec(
            select(col(CallAttempt.to_number), sa.func.count())
            .where(
                col(CallAttempt.to_number).in_(chunk),
                col(CallAttempt.created_at) >= since,
                sa.or_(
                    col(CallAttempt.outcome_class).is_(None),
                    col(CallAttempt.outcome_class) != OutcomeClass.CAPACITY,
                ),
            )
            .group_by(col(CallAttempt.to_number))
        ).all()
        counts.update(dict(rows))
    return counts


# --- batch mode: batches, their tasks' attempts, their progress ---------------------------------


def create_batch(
    *,
    session: Session,
    campaign_id: int,
    contacts: Sequence[Contact],
    lease_owner: str,
    from_number: str,
    timezone: str,
    variant: str | None,
    agent_id: str,
    agent_version: int | None,
    trigger_at: datetime | None,
    call_time_window: dict[str, Any],
    now: datetime | None = None,
) -> tuple[Batch, list[CallAttempt]] | None:
    """Record a batch and one attempt per leased contact, before the batch is requested. Commits.

    Like `create_attempt` for many contacts at once: each contact still leased by `lease_owner`
    becomes `dialing` and gets its next attempt (with `batch_id`); contacts whose lease was lost
    are left out. Returns the batch and the attempts in the order of `contacts`, or None (nothing
    written) when no lease was still held.
    """
    now = now or utcnow()
    taken: set[int] = set()
    for chunk in chunks(sorted(_saved_id(contact) for contact in contacts), _IN_LIST_CHUNK):
        started = _start_dialing(chunk, lease_owner=lease_owner, now=now)
        taken.update(session.exec(started.returning(col(Contact.id))).scalars())
    if not taken:
        session.rollback()
        return None
    previous: dict[int, int] = {}
    for chunk in chunks(sorted(taken), _IN_LIST_CHUNK):
        previous.update(
            session.exec(
                select(col(CallAttempt.contact_id), sa.func.max(col(CallAttempt.attempt_number)))
                .where(col(CallAttempt.contact_id).in_(chunk))
                .group_by(col(CallAttempt.contact_id))
            ).all()
        )
    batch = Batch(
        campaign_id=campaign_id,
        from_number=from_number,
        timezone=timezone,
        variant=variant,
        task_count=len(taken),
        trigger_at=trigger_at,
        call_time_window=call_time_window,
        created_at=now,
    )
    session.add(batch)
    session.flush()
    attempts = [
        CallAttempt(
            campaign_id=campaign_id,
            contact_id=contact.id,
            attempt_number=previous.get(contact.id, 0) + 1,
            # Batch tasks have no idempotency key at Retell; the column still identifies the row.
            idempotency_key=f"campaigner-{uuid4().hex}",
            batch_id=batch.id,
            variant=variant,
            agent_id=agent_id,
            agent_version=agent_version,
            from_number=from_number,
            to_number=contact.phone_e164,
            created_at=now,
        )
        for contact in contacts
        if contact.id in taken
    ]
    session.add_all(attempts)
    session.commit()
    return batch, attempts


_UNANSWERED_ATTEMPT_STATES = (AttemptState.PENDING_SEND, AttemptState.AMBIGUOUS)


def mark_batch_sent(
    *,
    session: Session,
    batch_id: int,
    retell_batch_id: str | None,
    sent_at: datetime | None = None,
) -> None:
    """Record that Retell has the batch (its id, when known) and its tasks' attempts. Commits.

    `retell_batch_id` is None for a batch whose create answer was lost but whose calls were found;
    an id already stored (by another run that got the answer) is kept.
    """
    sent_at = sent_at or utcnow()
    values: dict[str, Any] = {"state": BatchState.SENT, "sent_at": sent_at}
    if retell_batch_id is not None:
        values["retell_batch_id"] = retell_batch_id
    session.exec(sa.update(Batch).where(col(Batch.id) == batch_id).values(**values))
    session.exec(
        sa.update(CallAttempt)
        .where(
            col(CallAttempt.batch_id) == batch_id,
            col(CallAttempt.state).in_(_UNANSWERED_ATTEMPT_STATES),
        )
        .values(state=AttemptState.SENT, sent_at=sent_at)
    )
    session.commit()


def mark_batch_send_failed(
    *, session: Session, batch_id: int, ambiguous: bool, detail: str
) -> list[CallAttempt]:
    """Record a create-batch-call that failed, on the batch and its attempts. Commits.

    `ambiguous=True`: the batch may exist; its attempts stay live until it is reconciled.
    `ambiguous=False`: no batch exists; its attempts become `error` (settle them next). Returns the
    attempts changed. A batch another run has meanwhile recorded as sent is left as it is.
    """
    session.exec(
        sa.update(Batch)
        .where(
            col(Batch.id) == batch_id,
            col(Batch.state).in_([BatchState.PENDING_SEND, BatchState.AMBIGUOUS]),
        )
        .values(state=BatchState.AMBIGUOUS if ambiguous else BatchState.FAILED)
    )
    changed = list(
        session.exec(
            select(CallAttempt).where(
                col(CallAttempt.batch_id) == batch_id,
                col(CallAttempt.state).in_(_UNANSWERED_ATTEMPT_STATES),
            )
        )
    )
    for attempt in changed:
        attempt.state = AttemptState.AMBIGUOUS if ambiguous else AttemptState.ERROR
        attempt.error_detail = detail
        session.add(attempt)
    session.commit()
    return changed


def open_batches(*, session: Session, campaign_id: int) -> list[Batch]:
    """The campaign's batches that Retell has or may have, with attempts not final yet."""
    unfinished = sa.exists().where(
        col(CallAttempt.batch_id) == col(Batch.id), col(CallAttempt.finalized).is_(False)
    )
    return list(
        session.exec(
            select(Batch)
            .where(
                col(Batch.campaign_id) == campaign_id,
                col(Batch.state) != BatchState.FAILED,
                unfinished,
            )
            .order_by(col(Batch.id))
        )
    )


def batch_sync_watermark(*, session: Session, batch_id: int) -> datetime | None:
    """Where a sync of the batch's finished calls may start (their `end_timestamp`), or None.

    The earliest end of a call still waiting to be settled (its analysis may come), else the latest
    end seen: every call that ended before it has been settled. Callers keep a margin below it
    for calls that Retell lists late.
    """
    waiting = session.exec(
        select(sa.func.min(col(CallAttempt.end_timestamp))).where(
            col(CallAttempt.batch_id) == batch_id, col(CallAttempt.finalized).is_(False)
        )
    ).one()
    if waiting is not None:
        return waiting
    return session.exec(
        select(sa.func.max(col(CallAttempt.end_timestamp))).where(
            col(CallAttempt.batch_id) == batch_id
        )
    ).one()


class BatchProgress(TypedDict):
    """One batch of a campaign and how far its tasks got (`batch_progress`)."""

    batch_id: int
    retell_batch_id: str | None
    state: str
    timezone: str
    variant: str | None
    trigger_at: datetime | None
    created_at: datetime
    submitted: int
    dialed: int
    connected: int
    finished: int


def batch_progress(*, session: Session, campaign_id: int) -> list[BatchProgress]:
    """Every batch of the campaign with its tasks submitted, dialed (a call exists), connected
    (the call was answered) and finished (the attempt is settled), oldest first."""
    connected = sa.case(
        (col(CallAttempt.state).in_([AttemptState.ONGOING, AttemptState.ENDED]), 1), else_=0
    )
    counts = {
        batch_id: (submitted, dialed, int(answered or 0), int(finished or 0))
        # Five columns: more than sqlmodel's typed select() takes, so on the connection.
        for batch_id, submitted, dialed, answered, finished in session.connection()
        .execute(
            sa.select(
                col(CallAttempt.batch_id),
                sa.func.count(),
                sa.func.count(col(CallAttempt.retell_call_id)),
                sa.func.sum(connected),
                sa.func.sum(sa.case((col(CallAttempt.finalized), 1), else_=0)),
            )
            .where(
                col(CallAttempt.campaign_id) == campaign_id, col(CallAttempt.batch_id).is_not(None)
            )
            .group_by(col(CallAttempt.batch_id))
        )
        .all()
    }
    batches = session.exec(
        select(Batch).where(col(Batch.campaign_id) == campaign_id).order_by(col(Batch.id))
    )
    progress = []
    for batch in batches:
        assert batch.id is not None
        submitted, dialed, answered, finished = counts.get(batch.id, (0, 0, 0, 0))
        progress.append(
            BatchProgress(
                batch_id=batch.id,
                retell_batch_id=batch.retell_batch_id,
                state=batch.state.value,
                timezone=batch.timezone,
                variant=batch.variant,
                trigger_at=batch.trigger_at,
                created_at=batch.created_at,
                submitted=submitted,
                dialed=dialed,
                connected=answered,
                finished=finished,
            )
        )
    return progress
