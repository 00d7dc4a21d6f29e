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

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from sqlmodel import Session, col, select
from typing_extensions import TypedDict

from campaigner.campaign import CampaignConfig, OutcomeClass
from campaigner.store.bulk import (
    JSONText,
    bulk_insert,
    bulk_insert_column_chunks,
    bulk_insert_columns,
    chunks,
    json_text,
)
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
from campaigner.store.results import (
    IN_LIST_CHUNK,
    Settlement,
    finalize_attempts,
    record_call_results,
    settle_contacts,
)
from campaigner.store.types import utcnow

__all__ = [
    "INSERT_BATCH_SIZE",
    "AttemptPlan",
    "BatchProgress",
    "CampaignCounts",
    "add_suppressions",
    "batch_progress",
    "batch_sync_watermark",
    "calls_to_number_since",
    "campaign_counts",
    "campaign_numbers",
    "campaign_status",
    "claim_due_contacts",
    "claimable_timezone_sets",
    "contact_count",
    "create_attempt",
    "create_attempts",
    "create_batch",
    "create_source_file",
    "existing_contact_numbers",
    "finalize_attempt",
    "find_source_file",
    "get_campaign_by_name",
    "get_contact",
    "insert_contact_column_chunks",
    "insert_contact_columns",
    "insert_contacts",
    "insert_rejected_row_columns",
    "insert_rejected_rows",
    "lease_contacts_again",
    "list_campaigns",
    "list_suppressions",
    "mark_attempt_send_failed",
    "mark_attempt_sent",
    "mark_attempts_sent",
    "mark_batch_send_failed",
    "mark_batch_sent",
    "next_due_time",
    "open_batches",
    "record_batch_send_failure",
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
    dynamic_variables, extra_metadata and original may be given as `JSONText` (encoded objects).
    Returns the number inserted; a number already in the campaign is skipped. Flushes only.
    """
    return insert_contact_column_chunks(
        session=session, chunks=[columns], now=now, batch_size=batch_size
    )


def insert_contact_column_chunks(
    *,
    session: Session,
    chunks: Iterable[Mapping[str, Sequence[Any]]],
    now: datetime | None = None,
    batch_size: int = INSERT_BATCH_SIZE,
) -> int:
    """`insert_contact_columns` for contacts that arrive in chunks, each with the same fields.

    The chunks are consumed lazily and, on SQLite, built while the previous ones are inserted
    (see `bulk_insert_column_chunks`), so building one must not use the session.
    """
    pending = iter(chunks)
    first = next(pending, None)
    if first is None:
        return 0
    keys = first.keys()
    if not (keys <= _CONTACT_KEYS and keys >= _CONTACT_REQUIRED_KEYS):
        missing = sorted(_CONTACT_REQUIRED_KEYS - keys)
        unknown = sorted(keys - _CONTACT_KEYS)
        raise ValueError(f"contact columns: missing {missing}, unknown {unknown}")
    stamp = now or utcnow()
    defaults: dict[str, Any] = {name: None for name in _CONTACT_FIELDS if name not in keys}
    defaults |= {name: {} for name in _CONTACT_JSON_FIELDS if name not in keys}
    if "status" not in keys:
        defaults["status"] = ContactStatus.PENDING
    # Few distinct zone sets and statuses: convert each once, not once per contact.
    zone_sets: dict[tuple[str, ...], tuple[str, str]] = {}
    statuses: dict[Any, ContactStatus] = {}

    def converted(columns: Mapping[str, Sequence[Any]]) -> dict[str, Sequence[Any]]:
        given = dict(columns)
        zones = [
            zone_sets.get(zone_set)
            or zone_sets.setdefault(zone_set, (json_text(list(zone_set)), timezone_key(zone_set)))
            for zone_set in map(tuple, columns["timezones"])
        ]
        given["timezones"] = JSONText([text for text, _ in zones])
        given["timezone_key"] = [key for _, key in zones]
        if "status" in given:
            given["status"] = [
                statuses.get(status) or statuses.setdefault(status, ContactStatus(status))
                for status in given["status"]
            ]
        return given

    return bulk_insert_column_chunks(
        session,
        _table(Contact),
        map(converted, chain([first], pending)),
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
    return insert_rejected_row_columns(
        session=session, columns={name: [row[name] for row in rows] for name in _REJECTED_COLUMNS}
    )


def insert_rejected_row_columns(*, session: Session, columns: Mapping[str, Sequence[Any]]) -> int:
    """`insert_rejected_rows` given column by column; `raw` may be `JSONText` (encoded objects)."""
    if columns.keys() != set(_REJECTED_COLUMNS):
        expected = ", ".join(sorted(_REJECTED_COLUMNS))
        raise ValueError(f"rejected row columns: expected {expected}, got {sorted(columns)}")
    return bulk_insert_columns(
        session,
        _table(RejectedRow),
        columns,
        conflict=("source_file_id", "row_number"),
        batch_size=INSERT_BATCH_SIZE,
    )


def existing_contact_numbers(
    *, session: Session, campaign_id: int, numbers: Collection[str]
) -> set[str]:
    """Which of `numbers` (E.164) are already contacts of the campaign."""
    found: set[str] = set()
    for chunk in chunks(sorted(set(numbers)), IN_LIST_CHUNK):
        found.update(
            session.exec(
                select(Contact.phone_e164).where(
                    Contact.campaign_id == campaign_id, col(Contact.phone_e164).in_(chunk)
                )
            )
        )
    return found


def contact_count(*, session: Session, campaign_id: int) -> int:
    """How many contacts the campaign has (read from the (campaign, number) index alone, where
    `campaign_counts` reads every contact row: 4.8 s for 945,132 contacts here)."""
    count: int = session.exec(
        select(sa.func.count()).select_from(Contact).where(col(Contact.campaign_id) == campaign_id)
    ).one()
    return count


def campaign_numbers(*, session: Session, campaign_id: int) -> set[str]:
    """Every number (E.164) that is a contact of the campaign."""
    contacts = _table(Contact).c
    return set(
        session.connection()
        .execute(sa.select(contacts.phone_e164).where(contacts.campaign_id == campaign_id))
        .scalars()
    )


# --- suppression (the do-not-call list) -----------------------------------------------------------


def suppressed_numbers(*, session: Session, numbers: Collection[str]) -> dict[str, str]:
    """Which of `numbers` (E.164) are on the do-not-call list, with the reason for each."""
    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(numbers)), IN_LIST_CHUNK):
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
    for chunk in chunks(sorted(contact_ids), IN_LIST_CHUNK):
        result = session.exec(
            sa.update(Contact)
            .where(col(Contact.id).in_(chunk), col(Contact.lease_owner) == lease_owner)
            .values(**values)
        )
        released += result.rowcount
    return released


@dataclass(frozen=True)
class AttemptPlan:
    """The next attempt to write for a leased contact: who calls it, from which number."""

    contact: Contact
    agent_id: str
    agent_version: int | None
    from_number: str
    variant: str | None = None
    batch_id: int | None = None


def create_attempts(
    *,
    session: Session,
    plans: Sequence[AttemptPlan],
    lease_owner: str,
    now: datetime | None = None,
) -> list[CallAttempt]:
    """Write the next attempt for each leased contact, with fresh idempotency keys, in one
    transaction. Commits.

    Must be committed before the create requests are sent: after a crash the row (and its key) is
    how a call is found again. The contacts become `dialing` and their leases are released. A
    contact whose lease is no longer `lease_owner`'s (it expired and another worker claimed it)
    gets no attempt: that worker dials, this one must not. Returns the attempts written, in plan
    order, as objects outside the session (the contacts given are not refreshed either).
    """
    now = now or utcnow()
    session.flush()
    connection = session.connection()
    contacts = _table(Contact).c
    attempts = _table(CallAttempt)
    taken: set[int] = set()
    for chunk in chunks(sorted(_saved_id(plan.contact) for plan in plans), IN_LIST_CHUNK):
        taken.update(
            connection.execute(
                sa.update(_table(Contact))
                .where(
                    contacts.id.in_(chunk),
                    contacts.lease_owner == lease_owner,
                    contacts.status.in_(CLAIMABLE_STATUSES),
                )
                .values(
                    status=ContactStatus.DIALING,
                    lease_owner=None,
                    lease_expires_at=None,
                    updated_at=now,
                )
                .returning(contacts.id)
            ).scalars()
        )
    if not taken:
        session.rollback()
        return []
    previous: dict[int, int] = {}
    for chunk in chunks(sorted(taken), IN_LIST_CHUNK):
        rows = connection.execute(
            sa.select(attempts.c.contact_id, sa.func.max(attempts.c.attempt_number))
            .where(attempts.c.contact_id.in_(chunk))
            .group_by(attempts.c.contact_id)
        )
        previous.update((contact_id, number) for contact_id, number in rows)
    written = [
        CallAttempt(
            campaign_id=plan.contact.campaign_id,
            contact_id=plan.contact.id,
            attempt_number=previous.get(_saved_id(plan.contact), 0) + 1,
            idempotency_key=f"campaigner-{uuid4().hex}",
            batch_id=plan.batch_id,
            variant=plan.variant,
            agent_id=plan.agent_id,
            agent_version=plan.agent_version,
            from_number=plan.from_number,
            to_number=plan.contact.phone_e164,
            created_at=now,
            owner=lease_owner,
        )
        for plan in plans
        if plan.contact.id in taken
    ]
    ids = connection.execute(
        sa.insert(attempts).returning(attempts.c.id, sort_by_parameter_order=True),
        [attempt.model_dump(exclude={"id"}) for attempt in written],
    ).scalars()
    for attempt, attempt_id in zip(written, ids, strict=True):
        attempt.id = attempt_id
    session.commit()
    return written


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
    """`create_attempts` for one contact, whose object is refreshed; `LeaseLost` if the lease is
    no longer `lease_owner`'s. Commits."""
    plan = AttemptPlan(contact, agent_id, agent_version, from_number, variant, batch_id)
    written = create_attempts(session=session, plans=[plan], lease_owner=lease_owner, now=now)
    if not written:
        raise LeaseLost(f"contact {_saved_id(contact)} is no longer leased by {lease_owner!r}")
    if contact in session:
        session.refresh(contact)
    attempt = session.get(CallAttempt, written[0].id)
    assert attempt is not None
    return attempt


def mark_attempts_sent(
    *, session: Session, sent: Sequence[tuple[int, str]], sent_at: datetime | None = None
) -> None:
    """Record the call ids Retell gave for attempts' create requests ((attempt id, call id)
    pairs). Commits."""
    if not sent:
        return
    attempts = _table(CallAttempt)
    session.flush()
    session.connection().execute(
        sa.update(attempts)
        .where(
            attempts.c.id == sa.bindparam("b_id"),
            attempts.c.retell_call_id.is_(None),
            # Not IN (...): an executemany statement cannot expand a list.
            sa.or_(
                attempts.c.state == AttemptState.PENDING_SEND,
                attempts.c.state == AttemptState.AMBIGUOUS,
            ),
        )
        .values(
            retell_call_id=sa.bindparam("b_call_id"),
            state=AttemptState.SENT,
            sent_at=sent_at or utcnow(),
        ),
        [{"b_id": attempt_id, "b_call_id": call_id} for attempt_id, call_id in sent],
    )
    session.commit()


def mark_attempt_sent(
    *, session: Session, attempt_id: int, retell_call_id: str, sent_at: datetime | None = None
) -> None:
    """`mark_attempts_sent` for one attempt. Commits."""
    mark_attempts_sent(session=session, sent=[(attempt_id, retell_call_id)], sent_at=sent_at)
    if (loaded := session.get(CallAttempt, attempt_id)) is not None:
        session.refresh(loaded)


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


def attempts_awaiting_analysis(
    *, session: Session, campaign_id: int, ended_since: datetime
) -> list[CallAttempt]:
    """Settled attempts whose call connected and ended after `ended_since` with no post-call
    analysis stored yet: a run that stopped before the analysis came leaves them to the next."""
    return list(
        session.exec(
            select(CallAttempt)
            .where(
                CallAttempt.campaign_id == campaign_id,
                col(CallAttempt.end_timestamp) > ended_since,
                col(CallAttempt.retell_call_id).is_not(None),
                col(CallAttempt.finalized).is_(True),
                CallAttempt.state == AttemptState.ENDED,
                col(CallAttempt.analysis_at).is_(None),
            )
            .order_by(col(CallAttempt.id))
        )
    )


def finalize_attempt(*, session: Session, attempt_id: int, outcome_class: OutcomeClass) -> bool:
    """Mark one attempt final with its outcome class, once (see `finalize_attempts`). Flushes only.

    True for the caller that made it final; False when it already was.
    """
    return attempt_id in finalize_attempts(session=session, outcomes={attempt_id: outcome_class})


def record_call_result(
    *,
    session: Session,
    call: Mapping[str, Any],
    outcome_class: OutcomeClass | None = None,
    now: datetime | None = None,
) -> CallAttempt | None:
    """Merge what Retell says about one call (a call object as a dict) into its attempt, as
    `record_call_results` does for many. Flushes only. None for a call that is not one of ours."""
    (recorded,) = record_call_results(
        session=session, views=[(call, outcome_class)], now=now or utcnow()
    )
    if recorded is None:
        return None
    return session.get(CallAttempt, recorded.id, populate_existing=True)


def settle_contact(
    *,
    session: Session,
    contact_id: int,
    outcome: OutcomeClass,
    counted: bool,
    next_attempt_at: datetime | None,
    now: datetime | None = None,
) -> Contact:
    """Close one contact's attempt, as `settle_contacts` does for many. Flushes only."""
    settle_contacts(
        session=session,
        settlements=[Settlement(contact_id, outcome, counted, next_attempt_at)],
        now=now or utcnow(),
    )
    return get_contact(session=session, contact_id=contact_id)


def calls_to_number_since(
    *, session: Session, numbers: Collection[str], since: datetime
) -> dict[str, int]:
    """Attempts to each number since `since`, across ALL campaigns (for per-number caps).

    An attempt counts from when it was written or, if later, when its call started: a batch
    task is written when its batch is sent, and Retell may dial it hours later. (Until Retell
    has dialed it, the task is a live attempt, and a number in one is not claimed at all.)
    Attempts that never rang are not counted: those that failed for lack of capacity, and creates
    Retell refused (`error` without a call id: a refused batch is sent again in halves, and each
    of its tasks would otherwise use up a call of its number's day). Numbers without attempts are
    absent from the result.
    """
    counts: dict[str, int] = {}
    for chunk in chunks(sorted(set(numbers)), IN_LIST_CHUNK):
        rows = session.exec(
            select(col(CallAttempt.to_number), sa.func.count())
            .where(
                col(CallAttempt.to_number).in_(chunk),
                sa.or_(
                    col(CallAttempt.created_at) >= since,
                    col(CallAttempt.start_timestamp) >= since,
                ),
                sa.or_(
                    col(CallAttempt.outcome_class).is_(None),
                    col(CallAttempt.outcome_class) != OutcomeClass.CAPACITY,
                ),
                sa.or_(
                    col(CallAttempt.retell_call_id).is_not(None),
                    col(CallAttempt.state) != AttemptState.ERROR,
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

    `create_attempts` in the batch's transaction: each contact still leased by `lease_owner`
    becomes `dialing` and gets its next attempt (with `batch_id`); contacts whose lease was lost
    are left out. Returns the batch and the attempts in the order of `contacts`, or None (nothing
    written) when no lease was still held.
    """
    now = now or utcnow()
    batch = Batch(
        campaign_id=campaign_id,
        from_number=from_number,
        timezone=timezone,
        variant=variant,
        task_count=len(contacts),
        trigger_at=trigger_at,
        call_time_window=call_time_window,
        created_at=now,
    )
    session.add(batch)
    session.flush()
    plans = [
        AttemptPlan(contact, agent_id, agent_version, from_number, variant, batch.id)
        for contact in contacts
    ]
    attempts = create_attempts(session=session, plans=plans, lease_owner=lease_owner, now=now)
    if not attempts:
        return None
    if len(attempts) != batch.task_count:
        batch.task_count = len(attempts)
        session.add(batch)
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
    """`record_batch_send_failure`, committed."""
    changed = record_batch_send_failure(
        session=session, batch_id=batch_id, ambiguous=ambiguous, detail=detail
    )
    session.commit()
    return changed


def record_batch_send_failure(
    *, session: Session, batch_id: int, ambiguous: bool, detail: str
) -> list[CallAttempt]:
    """Record a create-batch-call that failed, on the batch and its attempts. Flushes only.

    `ambiguous=True`: the batch may exist; its attempts stay live until it is reconciled.
    `ambiguous=False`: no batch exists; its attempts become `error` (settle them in the same
    transaction, so a crash cannot leave their contacts `dialing`). Returns the attempts changed.
    A batch another run has meanwhile recorded as sent is left as it is.
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
    session.flush()
    return changed


def lease_contacts_again(
    *,
    session: Session,
    contact_ids: Collection[int],
    lease_owner: str,
    lease_seconds: float,
    now: datetime,
) -> None:
    """Lease contacts that `lease_owner` has just settled itself (the tasks of its own batch that
    Retell refused), so it can send them again before anyone else claims them. Flushes only.

    Only contacts still dialable (pending or waiting for a retry) are leased; call it in the
    transaction that settled them. If the owner dies, the lease expires and they are due again.
    """
    expires_at = now + timedelta(seconds=lease_seconds)
    for chunk in chunks(sorted(contact_ids), IN_LIST_CHUNK):
        session.exec(
            sa.update(Contact)
            .where(col(Contact.id).in_(chunk), col(Contact.status).in_(CLAIMABLE_STATUSES))
            .values(lease_owner=lease_owner, lease_expires_at=expires_at, updated_at=now)
        )


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
