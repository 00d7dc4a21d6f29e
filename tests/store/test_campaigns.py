"""Campaign rows: upsert by name, status changes across processes, progress counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigner.campaign import OutcomeClass
from campaigner.store import (
    CampaignNotFound,
    CampaignStatus,
    StatusChangeError,
    attempts,
    campaigns,
    claims,
    session_factory,
)
from tests.store.factories import (
    NOW,
    add_contacts,
    campaign_config,
    create_attempt,
    make_campaign,
    record_call_result,
    settle_contact,
)


def test_upsert_creates_then_updates_only_when_the_config_changes(session: Session) -> None:
    created = campaigns.upsert(session=session, config=campaign_config(), now=NOW)
    session.commit()
    same = campaigns.upsert(session=session, config=campaign_config(), now=NOW + timedelta(hours=1))
    updated_at_unchanged = same.updated_at
    changed_config = campaign_config(description="now with a description")
    changed = campaigns.upsert(session=session, config=changed_config, now=NOW + timedelta(hours=2))
    session.commit()

    assert created.id == same.id == changed.id
    assert updated_at_unchanged == NOW
    assert changed.updated_at == NOW + timedelta(hours=2)
    assert changed.config_sha256 == changed_config.config_sha256()
    assert changed.config["description"] == "now with a description"
    assert changed.status == CampaignStatus.ACTIVE


def test_get_campaign_by_name(session: Session) -> None:
    make_campaign(session, "alpha")

    assert campaigns.get_by_name(session=session, name="beta") is None
    found = campaigns.get_by_name(session=session, name="alpha")
    assert found is not None
    assert found.name == "alpha"


def test_pause_is_seen_by_another_session_and_stops_claims(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as controller, sessions() as dialer:
        campaign = make_campaign(controller)
        add_contacts(controller, campaign, 3)
        assert campaign.id is not None

        campaigns.set_status(
            session=controller, name=campaign.name, status=CampaignStatus.PAUSED, reason="lunch"
        )
        controller.commit()
        paused = claims.claim_due(
            session=dialer,
            campaign_id=campaign.id,
            now=NOW,
            limit=10,
            lease_owner="d",
            lease_seconds=60,
        )
        dialer.commit()
        campaigns.set_status(
            session=controller, name=campaign.name, status=CampaignStatus.ACTIVE, reason=None
        )
        controller.commit()
        resumed = claims.claim_due(
            session=dialer,
            campaign_id=campaign.id,
            now=NOW,
            limit=10,
            lease_owner="d",
            lease_seconds=60,
        )
        dialer.commit()

    assert paused == []
    assert len(resumed) == 3


def test_cancel_cancels_waiting_contacts_and_is_final(session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 3)

    cancelled = campaigns.set_status(
        session=session, name=campaign.name, status=CampaignStatus.CANCELLED, reason="recall"
    )
    session.commit()

    assert cancelled.status_reason == "recall"
    assert campaigns.counts(session=session, campaign_id=cancelled.id or 0)[
        "contacts_by_status"
    ] == {"cancelled": 3}
    with pytest.raises(StatusChangeError, match="is cancelled; it cannot become active"):
        campaigns.set_status(
            session=session, name=campaign.name, status=CampaignStatus.ACTIVE, reason=None
        )


def test_status_of_an_unknown_campaign(session: Session) -> None:
    with pytest.raises(CampaignNotFound, match="no campaign named 'ghost'"):
        campaigns.set_status(
            session=session, name="ghost", status=CampaignStatus.PAUSED, reason=None
        )


def test_campaign_counts_contacts_attempts_outcomes_and_cost(session: Session) -> None:
    campaign = make_campaign(session)
    other = make_campaign(session, "other")
    add_contacts(session, campaign, 4)
    add_contacts(session, other, 2, start=100)
    assert campaign.id is not None
    first, second = claims.claim_due(
        session=session,
        campaign_id=campaign.id,
        now=NOW,
        limit=2,
        lease_owner="w",
        lease_seconds=60,
    )
    session.commit()
    answered = create_attempt(
        session=session,
        contact=first,
        lease_owner="w",
        agent_id="agent_abc",
        agent_version=1,
        from_number="+14155550100",
        now=NOW,
    )
    refused = create_attempt(
        session=session,
        contact=second,
        lease_owner="w",
        agent_id="agent_abc",
        agent_version=1,
        from_number="+14155550100",
        now=NOW,
    )
    record_call_result(
        session=session,
        call={
            "call_id": "call_1",
            "call_status": "ended",
            "metadata": {"attempt": str(answered.id)},
            "call_cost": {"combined_cost": 12.5},
        },
        outcome_class=OutcomeClass.SUCCESS,
    )
    settle_contact(
        session=session,
        contact_id=first.id or 0,
        outcome=OutcomeClass.SUCCESS,
        counted=True,
        next_attempt_at=None,
    )
    session.commit()
    attempts.mark_send_failed(
        session=session,
        attempt_id=refused.id or 0,
        ambiguous=False,
        detail="400 bad number",
        outcome_class=OutcomeClass.INVALID_NUMBER,
    )
    session.commit()

    assert campaigns.counts(session=session, campaign_id=campaign.id) == {
        "contacts": 4,
        "contacts_by_status": {"done": 1, "dialing": 1, "pending": 2},
        "final_outcomes": {"success": 1},
        "attempts": 2,
        "attempts_by_state": {"ended": 1, "error": 1},
        "attempts_by_outcome": {"success": 1, "invalid_number": 1},
        "cost_cents": 12.5,
    }
