"""The outcome store: SQLModel tables, engines and sessions, migrations, and every query.

    engine = make_engine(get_settings().database_url)
    upgrade_database(engine)
    with transaction(engine) as session:
        campaign = campaigns.upsert(session=session, config=config)

One transaction rule: store functions never commit or roll back; the caller owns the unit of
work, through `transaction(engine)` (commits when the block ends, rolls back if it raises).

Only this package writes SQL. Its queries live in one module per aggregate, called by module:
`campaigns`, `contacts`, `imports` (source files, rejected rows), `suppression`, `claims`
(leases on due contacts), `attempts`, `batches`, `results` (call results, many calls per write),
`run_leases` and `preflight_passes` (campaign setups that passed their checks). Keyword-only
arguments throughout; timestamps given must be timezone-aware, and `now` defaults to the current
UTC time. Inserts of rows that may already exist go through `campaigner.store.bulk` (ON CONFLICT
DO NOTHING on both backends), so repeating one is harmless.
"""

from __future__ import annotations

from campaigner.store import (
    attempts,
    batches,
    campaigns,
    claims,
    contacts,
    imports,
    preflight_passes,
    results,
    run_leases,
    suppression,
)
from campaigner.store.attempts import AttemptPlan, CallOnRecord
from campaigner.store.batches import BatchProgress
from campaigner.store.bulk import JSONText, json_text
from campaigner.store.campaigns import CampaignCounts
from campaigner.store.contacts import INSERT_BATCH_SIZE
from campaigner.store.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_PAGE_SIZE,
    Engine,
    Session,
    alembic_config,
    make_engine,
    open_store,
    session_factory,
    transaction,
    upgrade_database,
    url_for_people,
    when_transaction_ends,
)
from campaigner.store.errors import (
    CampaignNotFound,
    DatabaseError,
    IntegrityError,
    LeaseLost,
    OperationalError,
    StatusChangeError,
    StoreError,
    StoreMissing,
    StoreUnreachable,
)
from campaigner.store.models import (
    LIVE_ATTEMPT_STATES,
    AttemptState,
    BatchState,
    BatchSubmission,
    CallAttempt,
    Campaign,
    CampaignStatus,
    Contact,
    ContactStatus,
    PreflightPass,
    RejectedRow,
    RunLease,
    SourceFile,
    Suppression,
)
from campaigner.store.results import (
    RECORDED_CALL_FIELDS,
    ContactFacts,
    RecordedAttempt,
    Settlement,
)
from campaigner.store.run_leases import RunShare
from campaigner.store.types import UTCDateTime, utcnow

__all__ = [
    "INSERT_BATCH_SIZE",
    "LIVE_ATTEMPT_STATES",
    "RECORDED_CALL_FIELDS",
    "SQLITE_BUSY_TIMEOUT_MS",
    "SQLITE_PAGE_SIZE",
    "AttemptPlan",
    "AttemptState",
    "BatchProgress",
    "BatchState",
    "BatchSubmission",
    "CallAttempt",
    "CallOnRecord",
    "Campaign",
    "CampaignCounts",
    "CampaignNotFound",
    "CampaignStatus",
    "Contact",
    "ContactFacts",
    "ContactStatus",
    "DatabaseError",
    "Engine",
    "IntegrityError",
    "JSONText",
    "LeaseLost",
    "OperationalError",
    "PreflightPass",
    "RecordedAttempt",
    "RejectedRow",
    "RunLease",
    "RunShare",
    "Session",
    "Settlement",
    "SourceFile",
    "StatusChangeError",
    "StoreError",
    "StoreMissing",
    "StoreUnreachable",
    "Suppression",
    "UTCDateTime",
    "alembic_config",
    "attempts",
    "batches",
    "campaigns",
    "claims",
    "contacts",
    "imports",
    "json_text",
    "make_engine",
    "open_store",
    "preflight_passes",
    "results",
    "run_leases",
    "session_factory",
    "suppression",
    "transaction",
    "upgrade_database",
    "url_for_people",
    "utcnow",
    "when_transaction_ends",
]
