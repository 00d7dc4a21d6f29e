"""Small builders for store tests: a campaign, a source file, contacts with sensible defaults."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from campaigner.campaign import CampaignConfig
from campaigner.store import (
    Batch,
    CallAttempt,
    Campaign,
    Contact,
    claim_due_contacts,
    create_attempt,
    create_batch,
    create_source_file,
    insert_contacts,
    upsert_campaign,
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
    campaign = upsert_campaign(session=session, config=campaign_config(name), now=NOW)
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
    source = create_source_file(
        session=session,
        campaign_id=campaign.id,
        path=f"contacts-{start}.csv",
        sha256=uuid.uuid4().hex * 2,
    )
    assert source.id is not None
    rows = [contact_row(campaign.id, source.id, i, **changes) for i in range(start, start + count)]
    inserted = insert_contacts(session=session, rows=rows, now=NOW)
    session.commit()
    return inserted


def lease_into_batch(
    session: Session,
    campaign_id: int,
    *,
    now: datetime,
    lease_owner: str = "test-run",
    trigger_at: datetime | None = None,
) -> tuple[Batch, list[CallAttempt]]:
    """Lease every due contact of the campaign and record them as one batch (not sent); commits."""
    leased = claim_due_contacts(
        session=session,
        campaign_id=campaign_id,
        now=now,
        limit=1000,
        lease_owner=lease_owner,
        lease_seconds=300,
    )
    recorded = create_batch(
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
        call_time_window={"windows": [{"start": 0, "end": 1440}], "timezone": NEW_YORK[0]},
        now=now,
    )
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
    """Lease up to `limit` due contacts for `owner` (60 s leases)."""
    return claim_due_contacts(
        session=session,
        campaign_id=campaign.id or 0,
        now=now,
        limit=limit,
        lease_owner=owner,
        lease_seconds=60,
        timezones=timezones,
    )


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
