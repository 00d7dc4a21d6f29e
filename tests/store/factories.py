"""Small builders for store tests: a campaign, a source file, contacts with sensible defaults."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from campaigner import store
from campaigner.campaign import CampaignConfig, OutcomeClass
from campaigner.store import (
    AttemptPlan,
    BatchSubmission,
    CallAttempt,
    Campaign,
    Contact,
    LeaseLost,
    Settlement,
    batches,
    campaigns,
    claims,
    contacts,
    imports,
    utcnow,
)

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
NEW_YORK = ("America/New_York",)


def campaign_config(name: str = "spring-recall", **changes: Any) -> CampaignConfig:
    return CampaignConfig.model_validate(
        {
            "name": name,
            "agent": {"agent_id": "agent_abc"},
            "from_numbers": ["+14155550100"],
            "columns": {"phone": "Phone"},
            **changes,
        }
    )


def make_campaign(session: Session, name: str = "spring-recall") -> Campaign:
    campaign = campaigns.upsert(session=session, config=campaign_config(name), now=NOW)
    session.commit()
    return campaign


def number(index: int) -> str:
    """Distinct E.164-shaped numbers in the fictional 555-01xx range (the store does not check)."""
    area, line = divmod(index, 100)
    return f"+1{212 + area:03d}55501{line:02d}"


def contact_row(
    campaign_id: int, source_file_id: int, index: int, **changes: Any
) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "source_file_id": source_file_id,
        "row_number": index + 2,
        "phone_e164": number(index),
        "timezones": list(NEW_YORK),
        "country": "US",
        "number_type": "FIXED_LINE_OR_MOBILE",
        "external_id": f"C{index:05d}",
        "dynamic_variables": {"first_name": f"Pat {index}"},
        "extra_metadata": {"Customer ID": f"C{index:05d}"},
        "original": {"Phone": number(index), "First Name": f"Pat {index}"},
        "variant": "default",
        **changes,
    }


def add_contacts(
    session: Session, campaign: Campaign, count: int, *, start: int = 0, **changes: Any
) -> int:
    """Insert `count` contacts (numbers start..start+count) from a new source file; commits."""
    assert campaign.id is not None
    source = imports.create_file(
        session=session,
        campaign_id=campaign.id,
        path=f"contacts-{start}.csv",
        sha256=uuid.uuid4().hex * 2,
    )
    assert source.id is not None
    rows = [contact_row(campaign.id, source.id, i, **changes) for i in range(start, start + count)]
    inserted = contacts.insert(session=session, rows=rows, now=NOW)
    session.commit()
    return inserted


def lease_into_batch(
    session: Session,
    campaign_id: int,
    *,
    now: datetime,
    lease_owner: str = "test-run",
    trigger_at: datetime | None = None,
    call_time_window: dict[str, Any] | None = None,
) -> tuple[BatchSubmission, list[CallAttempt]]:
    """Lease every due contact of the campaign and record them as one batch (not sent), by
    default with a window open all day in New York; commits."""
    leased = claims.claim_due(
        session=session,
        campaign_id=campaign_id,
        now=now,
        limit=1000,
        lease_owner=lease_owner,
        lease_seconds=300,
    )
    session.commit()
    recorded = batches.create(
        session=session,
        campaign_id=campaign_id,
        contacts=leased,
        lease_owner=lease_owner,
        from_number="+14155550100",
        timezone=NEW_YORK[0],
        variant="default",
        agent_id="agent_abc",
        agent_version=None,
        trigger_at=trigger_at,
        call_time_window=call_time_window
        or {"windows": [{"start": 0, "end": 1440}], "timezone": NEW_YORK[0]},
        now=now,
    )
    session.commit()
    assert recorded is not None
    return recorded


def claim(
    session: Session,
    campaign: Campaign,
    *,
    limit: int = 100,
    owner: str = "w1",
    now: datetime = NOW,
    timezones: Collection[Collection[str]] | None = None,
) -> list[Contact]:
    """Lease up to `limit` due contacts for `owner` (60 s leases); commits."""
    leased = claims.claim_due(
        session=session,
        campaign_id=campaign.id or 0,
        now=now,
        limit=limit,
        lease_owner=owner,
        lease_seconds=60,
        timezones=timezones,
    )
    session.commit()
    return leased


# Singular wrappers of the store's batch functions, for tests that follow one call or contact.


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
    """`attempts.create` for one contact, whose object is refreshed; `LeaseLost` if the lease is
    no longer `lease_owner`'s. Commits."""
    plan = AttemptPlan(contact, agent_id, agent_version, from_number, variant, batch_id)
    written = store.attempts.create(session=session, plans=[plan], lease_owner=lease_owner, now=now)
    session.commit()
    if not written:
        raise LeaseLost(f"contact {contact.id} is no longer leased by {lease_owner!r}")
    if contact in session:
        session.refresh(contact)
    attempt = session.get(CallAttempt, written[0].id)
    assert attempt is not None
    return attempt


def write_attempt(session: Session, contact: Contact, owner: str = "w1") -> CallAttempt:
    """The next attempt for a contact `owner` leased, committed (as a run writes it ahead)."""
    return create_attempt(
        session=session,
        contact=contact,
        lease_owner=owner,
        agent_id="agent_abc",
        agent_version=None,
        from_number="+14155550100",
        variant="default",
        now=NOW,
    )


def mark_attempt_sent(
    *, session: Session, attempt_id: int, retell_call_id: str, sent_at: datetime | None = None
) -> None:
    """`attempts.mark_sent` for one attempt. Commits."""
    store.attempts.mark_sent(session=session, sent=[(attempt_id, retell_call_id)], sent_at=sent_at)
    session.commit()
    if (loaded := session.get(CallAttempt, attempt_id)) is not None:
        session.refresh(loaded)


def finalize_attempt(*, session: Session, attempt_id: int, outcome_class: OutcomeClass) -> bool:
    """Mark one attempt final with its outcome class, once (see `results.finalize_attempts`).

    True for the caller that made it final; False when it already was.
    """
    finalized = store.results.finalize_attempts(
        session=session, outcomes={attempt_id: outcome_class}
    )
    return attempt_id in finalized


def record_call_result(
    *,
    session: Session,
    call: Mapping[str, Any],
    outcome_class: OutcomeClass | None = None,
    now: datetime | None = None,
) -> CallAttempt | None:
    """Merge what Retell says about one call (a call object as a dict) into its attempt, as
    `results.record_call_results` does for many. None for a call that is not one of ours."""
    (recorded,) = store.results.record_call_results(
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
    """Close one contact's attempt, as `results.settle_contacts` does for many."""
    store.results.settle_contacts(
        session=session,
        settlements=[Settlement(contact_id, outcome, counted, next_attempt_at)],
        now=now or utcnow(),
    )
    return store.contacts.get(session=session, contact_id=contact_id)
