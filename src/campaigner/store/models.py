"""Every table of the outcome store, as SQLModel classes.

    Campaign ─┬─ SourceFile ─┬─ Contact ── CallAttempt ── (BatchSubmission)
              │              └─ RejectedRow
              └─ BatchSubmission
    Suppression (global do-not-call list, keyed by E.164 number)

Timestamps are timezone-aware UTC (`UTCDateTime`). Status columns hold the `StrEnum` values as
plain strings, so the schema is the same on SQLite and PostgreSQL and needs no enum types. Comments
on the indexes name the store queries (in its aggregate modules) that need them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from campaigner.campaign import OutcomeClass
from campaigner.store.types import UTCDateTime, utcnow

__all__ = [
    "CLAIMABLE_STATUSES",
    "LIVE_ATTEMPT_STATES",
    "AttemptState",
    "BatchState",
    "BatchSubmission",
    "CallAttempt",
    "Campaign",
    "CampaignStatus",
    "Contact",
    "ContactStatus",
    "PreflightPass",
    "RejectedRow",
    "RunLease",
    "SourceFile",
    "Suppression",
]

# Deterministic constraint names on every backend, so later migrations can address them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class CampaignStatus(StrEnum):
    """Whether a campaign dials. Only `active` campaigns have contacts claimed."""

    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class ContactStatus(StrEnum):
    """Where a contact is: waiting to be dialed, in a call, waiting for a retry, or done."""

    PENDING = "pending"
    DIALING = "dialing"
    WAITING_RETRY = "waiting_retry"
    DONE = "done"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


CLAIMABLE_STATUSES = (ContactStatus.PENDING, ContactStatus.WAITING_RETRY)
"""Statuses of contacts that may still be dialed."""


class AttemptState(StrEnum):
    """One call attempt, from the committed row before the request to Retell's final call status.

    `pending_send`: written, never handed to Retell (it may be withdrawn). `ambiguous`: its
    owner took the right to send it (`claim_sends`), so a request may have reached Retell and its
    answer is not known yet; it is never withdrawn, only reconciled. `sent`: Retell answered with
    a call_id.
    `registered`/`ongoing`/`ended`/`not_connected`/`error`: Retell's `call_status`.
    """

    PENDING_SEND = "pending_send"
    SENT = "sent"
    AMBIGUOUS = "ambiguous"
    REGISTERED = "registered"
    ONGOING = "ongoing"
    ENDED = "ended"
    NOT_CONNECTED = "not_connected"
    ERROR = "error"


LIVE_ATTEMPT_STATES = frozenset(
    {
        AttemptState.PENDING_SEND,
        AttemptState.SENT,
        AttemptState.AMBIGUOUS,
        AttemptState.REGISTERED,
        AttemptState.ONGOING,
    }
)
"""States in which a call to the number may be in progress: never dial the number again then."""


class BatchState(StrEnum):
    """A Retell batch call: recorded before the request, then sent, ambiguous or failed."""

    PENDING_SEND = "pending_send"
    SENT = "sent"
    AMBIGUOUS = "ambiguous"
    FAILED = "failed"


def _enum_column(enum: type[StrEnum]) -> sa.Enum:
    return sa.Enum(
        enum,
        native_enum=False,
        create_constraint=False,
        validate_strings=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )


def _created_at() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def _optional_time() -> Any:
    return Field(default=None, sa_type=UTCDateTime)


def _json(*, nullable: bool = False) -> Any:
    return Field(default=None if nullable else ..., sa_type=sa.JSON, nullable=nullable)


class Campaign(SQLModel, table=True):
    """A campaign, by name, with the configuration it last ran under."""

    __tablename__ = "campaign"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(64), unique=True, nullable=False)
    config: dict[str, Any] = _json()
    config_sha256: str = Field(sa_type=sa.String(64), nullable=False)
    status: CampaignStatus = Field(
        default=CampaignStatus.ACTIVE, sa_type=_enum_column(CampaignStatus), nullable=False
    )
    status_reason: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()


class SourceFile(SQLModel, table=True):
    """A contacts file imported into a campaign; the same bytes are imported once."""

    __tablename__ = "source_file"
    __table_args__ = (sa.UniqueConstraint("campaign_id", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", nullable=False)
    path: str = Field(sa_type=sa.Text, nullable=False)
    sha256: str = Field(sa_type=sa.String(64), nullable=False)
    rows_read: int = Field(default=0, nullable=False)
    accepted: int = Field(default=0, nullable=False)
    rejected: int = Field(default=0, nullable=False)
    duplicates: int = Field(default=0, nullable=False)
    suppressed: int = Field(default=0, nullable=False)
    created_at: datetime = _created_at()


_CLAIMABLE_CONDITION = sa.text(
    "status IN ({})".format(", ".join(f"'{status.value}'" for status in CLAIMABLE_STATUSES))
)


class Contact(SQLModel, table=True):
    """One number to call in one campaign, with everything needed to call it and report on it."""

    __tablename__ = "contact"
    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "phone_e164"),
        # claims.claim_due reads this in its own order (due retries, then new contacts by id)
        # and stops after `limit` rows; only contacts that can still be dialed are in it.
        sa.Index(
            "ix_contact_due",
            "campaign_id",
            "next_attempt_at",
            "id",
            postgresql_where=_CLAIMABLE_CONDITION,
            sqlite_where=_CLAIMABLE_CONDITION,
        ),
        # campaigns.counts reads this index alone, not every contact row.
        sa.Index(
            "ix_contact_campaign_id_status_final_outcome", "campaign_id", "status", "final_outcome"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", nullable=False)
    source_file_id: int = Field(foreign_key="source_file.id", nullable=False)
    row_number: int = Field(nullable=False)
    phone_e164: str = Field(sa_type=sa.String(16), nullable=False)
    country: str | None = Field(default=None, sa_type=sa.String(3))
    timezones: list[str] = _json()
    timezone_key: str = Field(sa_type=sa.Text, nullable=False)
    number_type: str | None = Field(default=None, sa_type=sa.String(32))
    # The header of the file's column the number was taken from (`columns.phone` may name
    # several); NULL for contacts imported before it was recorded.
    phone_column: str | None = Field(default=None, sa_type=sa.Text)
    external_id: str | None = Field(default=None, sa_type=sa.Text)
    dynamic_variables: dict[str, str] = _json()
    extra_metadata: dict[str, Any] = _json()
    original: dict[str, Any] = _json()
    status: ContactStatus = Field(
        default=ContactStatus.PENDING, sa_type=_enum_column(ContactStatus), nullable=False
    )
    attempts_made: int = Field(default=0, nullable=False)
    # When the contact is due: its import, then each retry time. Never null, so claims can read
    # ix_contact_due in order whatever the planner's statistics say.
    next_attempt_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    final_outcome: OutcomeClass | None = Field(
        default=None, sa_type=_enum_column(OutcomeClass), nullable=True
    )
    variant: str | None = Field(default=None, sa_type=sa.String(40))
    lease_owner: str | None = Field(default=None, sa_type=sa.String(200))
    lease_expires_at: datetime | None = _optional_time()
    created_at: datetime = _created_at()
    updated_at: datetime = _created_at()


class BatchSubmission(SQLModel, table=True):
    """One submission of a Retell batch call (batch mode), recorded before it is requested: the
    row of a `create-batch-call` as `CallAttempt` is the row of a `create-phone-call`."""

    __tablename__ = "batch"
    __table_args__ = (sa.Index("ix_batch_campaign_id_state", "campaign_id", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", nullable=False)
    retell_batch_id: str | None = Field(default=None, sa_type=sa.String(100), unique=True)
    from_number: str = Field(sa_type=sa.String(32), nullable=False)
    timezone: str = Field(sa_type=sa.String(64), nullable=False)
    variant: str | None = Field(default=None, sa_type=sa.String(40))
    state: BatchState = Field(
        default=BatchState.PENDING_SEND, sa_type=_enum_column(BatchState), nullable=False
    )
    task_count: int = Field(default=0, nullable=False)
    trigger_at: datetime | None = _optional_time()
    # Retell's `call_time_window` as sent: whether the batch is waiting or dialing right now.
    call_time_window: dict[str, Any] | None = _json(nullable=True)
    created_at: datetime = _created_at()
    sent_at: datetime | None = _optional_time()


class CallAttempt(SQLModel, table=True):
    """One call placed (or about to be placed) to a contact, and everything Retell said about it.

    The row, with its idempotency key, is committed before the create request goes out, so a crash
    at any point leaves either no call or a row that says how to find it again.
    """

    __tablename__ = "call_attempt"
    __table_args__ = (
        # One row per attempt of a contact; a second call Retell placed for an attempt gets a
        # row of its own with the same number, flagged by `duplicate_of`.
        sa.Index(
            "uq_call_attempt_attempt_number_once",
            "contact_id",
            "attempt_number",
            unique=True,
            postgresql_where=sa.text("duplicate_of IS NULL"),
            sqlite_where=sa.text("duplicate_of IS NULL"),
        ),
        # campaigns.counts reads this index alone; lookups of attempts by campaign and state use it.
        sa.Index(
            "ix_call_attempt_campaign_id_state_outcome_cost",
            "campaign_id",
            "state",
            "outcome_class",
            "cost_cents",
        ),
        # calls_to_number_since / numbers_in_live_calls: per-number caps across campaigns.
        sa.Index("ix_call_attempt_to_number_created_at", "to_number", "created_at"),
        # attempts.awaiting_analysis: a campaign's calls that ended recently.
        sa.Index("ix_call_attempt_campaign_id_end_timestamp", "campaign_id", "end_timestamp"),
        # Batch mode: a batch's attempts (sync, reconcile, status counts).
        sa.Index("ix_call_attempt_batch_id", "batch_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", nullable=False)
    contact_id: int = Field(foreign_key="contact.id", nullable=False)
    attempt_number: int = Field(nullable=False)
    idempotency_key: str = Field(sa_type=sa.String(100), unique=True, nullable=False)
    retell_call_id: str | None = Field(default=None, sa_type=sa.String(100), unique=True)
    batch_id: int | None = Field(default=None, foreign_key="batch.id")
    variant: str | None = Field(default=None, sa_type=sa.String(40))
    # Retell's free strings (agent ids, reasons, sentiments) are unbounded: a longer one than
    # expected must not fail the batch of results it comes in (0007).
    agent_id: str = Field(sa_type=sa.Text, nullable=False)
    agent_version: int | None = Field(default=None)
    from_number: str = Field(sa_type=sa.String(32), nullable=False)
    to_number: str = Field(sa_type=sa.String(32), nullable=False)
    state: AttemptState = Field(
        default=AttemptState.PENDING_SEND, sa_type=_enum_column(AttemptState), nullable=False
    )
    outcome_class: OutcomeClass | None = Field(
        default=None, sa_type=_enum_column(OutcomeClass), nullable=True
    )
    disconnection_reason: str | None = Field(default=None, sa_type=sa.Text)
    error_detail: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = _created_at()
    sent_at: datetime | None = _optional_time()
    start_timestamp: datetime | None = _optional_time()
    end_timestamp: datetime | None = _optional_time()
    duration_ms: int | None = Field(default=None, sa_type=sa.BigInteger)
    cost_cents: float | None = Field(default=None, sa_type=sa.Float)
    latency_e2e_p50_ms: float | None = Field(default=None, sa_type=sa.Float)
    latency_e2e_p90_ms: float | None = Field(default=None, sa_type=sa.Float)
    call_successful: bool | None = Field(default=None)
    user_sentiment: str | None = Field(default=None, sa_type=sa.Text)
    in_voicemail: bool | None = Field(default=None)
    call_summary: str | None = Field(default=None, sa_type=sa.Text)
    custom_analysis: dict[str, Any] | None = _json(nullable=True)
    recording_url: str | None = Field(default=None, sa_type=sa.Text)
    public_log_url: str | None = Field(default=None, sa_type=sa.Text)
    transcript: str | None = Field(default=None, sa_type=sa.Text)
    analysis_at: datetime | None = _optional_time()
    finalized: bool = Field(default=False, nullable=False)
    # The run that may send or reconcile the attempt (a `run_lease` owner); another run takes it
    # over only once that run's lease is gone, and a send needs the row to still name its run.
    owner: str | None = Field(default=None, sa_type=sa.String(200))
    # Retell's time (as its Date headers said, never later) when the create was first handed
    # over: the idempotency key protects a resend for an hour from then on Retell's clock.
    key_first_sent_at: datetime | None = _optional_time()
    # A call Retell placed for an attempt that already had another call (found by its metadata):
    # recorded and counted on a row of its own, which names the attempt it duplicates.
    duplicate_of: int | None = Field(default=None, foreign_key="call_attempt.id")


class Suppression(SQLModel, table=True):
    """The global do-not-call list: a number here is never dialed by any campaign."""

    __tablename__ = "suppression"

    phone_e164: str = Field(sa_type=sa.String(16), primary_key=True)
    reason: str = Field(sa_type=sa.Text, nullable=False)
    source: str = Field(sa_type=sa.Text, nullable=False)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    created_at: datetime = _created_at()


class RunLease(SQLModel, table=True):
    """A live dialer run of a campaign: the slots it holds of its Retell workspace's concurrency,
    and its calls in progress.

    The runs of every campaign dialing one workspace renew their rows every second and split the
    workspace's slots between them (`run_leases.hold`); a row whose `beat` stops moving is
    dropped by the others, and its slots go back to them.
    """

    __tablename__ = "run_lease"

    owner: str = Field(sa_type=sa.String(200), primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", nullable=False, index=True)
    workspace: str = Field(
        default="",
        sa_type=sa.String(64),
        nullable=False,
        index=True,
        sa_column_kwargs={"server_default": ""},
    )
    slots: int = Field(default=0, nullable=False)
    calls_in_progress: int = Field(default=0, nullable=False)
    # Slots the run could use now; None: as many as it can get (it has contacts due).
    wanted: int | None = Field(default=None, nullable=True)
    priority: int = Field(default=1, nullable=False, sa_column_kwargs={"server_default": "1"})
    campaign_cap: int | None = Field(default=None, nullable=True)
    # When the run last said it would renew by, on its own clock: shown to people, never used to
    # decide whether the run is alive (clocks disagree); `beat` is.
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    # Grows by one at each renewal: a lease whose beat has not moved for the lease time, as
    # another run measures it on its own monotonic clock, belongs to a dead or paused run.
    beat: int = Field(default=0, nullable=False)
    created_at: datetime = _created_at()


class PreflightPass(SQLModel, table=True):
    """A preflight (`campaigner check`) that passed for one version of a campaign's setup: its
    config, the Retell endpoint and the API key, hashed together into `fingerprint`.

    Scheduled runs start every few minutes; a pass recorded here spares each of them another
    round of reads against Retell until the file, the endpoint or the key changes, or the pass
    grows old. Only passes are kept: a failed check is run again until it is fixed.
    """

    __tablename__ = "preflight_pass"

    fingerprint: str = Field(sa_type=sa.String(64), primary_key=True)
    campaign: str = Field(sa_type=sa.String(64), nullable=False)
    checked_at: datetime = Field(sa_type=UTCDateTime, nullable=False)


class RejectedRow(SQLModel, table=True):
    """An input row that did not become a contact, and why."""

    __tablename__ = "rejected_row"
    __table_args__ = (
        sa.UniqueConstraint("source_file_id", "row_number"),
        sa.Index("ix_rejected_row_campaign_id", "campaign_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int = Field(foreign_key="campaign.id", nullable=False)
    source_file_id: int = Field(foreign_key="source_file.id", nullable=False)
    row_number: int = Field(nullable=False)
    reason: str = Field(sa_type=sa.String(64), nullable=False)
    detail: str = Field(default="", sa_type=sa.Text, nullable=False)
    raw: dict[str, Any] = _json()
