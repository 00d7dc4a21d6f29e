"""The outcome store: SQLModel tables, engines and sessions, migrations, and every query.

    engine = make_engine(get_settings().database_url)
    upgrade_database(engine)
    with session_factory(engine)() as session:
        campaign = upsert_campaign(session=session, config=config)
        session.commit()

Only this package writes SQL; see `campaigner.store.queries` for who commits what.
"""

from __future__ import annotations

from campaigner.store.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    alembic_config,
    make_engine,
    session_factory,
    upgrade_database,
)
from campaigner.store.errors import CampaignNotFound, LeaseLost, StatusChangeError, StoreError
from campaigner.store.models import (
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
from campaigner.store.queries import (
    INSERT_BATCH_SIZE,
    CampaignCounts,
    add_suppressions,
    attempts_without_call_id,
    calls_to_number_since,
    campaign_counts,
    claim_due_contacts,
    claimable_timezone_sets,
    create_attempt,
    create_source_file,
    existing_contact_numbers,
    find_source_file,
    get_campaign_by_name,
    insert_contacts,
    insert_rejected_rows,
    list_suppressions,
    mark_attempt_send_failed,
    mark_attempt_sent,
    record_call_result,
    release_contacts,
    remove_suppression,
    set_campaign_status,
    settle_contact,
    suppressed_numbers,
    timezone_key,
    update_source_file_counts,
    upsert_campaign,
)
from campaigner.store.types import UTCDateTime, utcnow

__all__ = [
    "INSERT_BATCH_SIZE",
    "LIVE_ATTEMPT_STATES",
    "SQLITE_BUSY_TIMEOUT_MS",
    "AttemptState",
    "Batch",
    "BatchState",
    "CallAttempt",
    "Campaign",
    "CampaignCounts",
    "CampaignNotFound",
    "CampaignStatus",
    "Contact",
    "ContactStatus",
    "LeaseLost",
    "RejectedRow",
    "SourceFile",
    "StatusChangeError",
    "StoreError",
    "Suppression",
    "UTCDateTime",
    "add_suppressions",
    "alembic_config",
    "attempts_without_call_id",
    "calls_to_number_since",
    "campaign_counts",
    "claim_due_contacts",
    "claimable_timezone_sets",
    "create_attempt",
    "create_source_file",
    "existing_contact_numbers",
    "find_source_file",
    "get_campaign_by_name",
    "insert_contacts",
    "insert_rejected_rows",
    "list_suppressions",
    "make_engine",
    "mark_attempt_send_failed",
    "mark_attempt_sent",
    "record_call_result",
    "release_contacts",
    "remove_suppression",
    "session_factory",
    "set_campaign_status",
    "settle_contact",
    "suppressed_numbers",
    "timezone_key",
    "update_source_file_counts",
    "upgrade_database",
    "upsert_campaign",
    "utcnow",
]
