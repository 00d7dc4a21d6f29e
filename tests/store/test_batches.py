"""Batch mode in the store: a batch and its attempts recorded before the request, and its states."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from campaigner.store import (
    AttemptState,
    BatchState,
    BatchSubmission,
    CallAttempt,
    ContactStatus,
    batches,
    contacts,
)
from tests.store.factories import NOW, add_contacts, claim, lease_into_batch, make_campaign


def test_a_run_whose_leases_were_taken_records_no_batch(session: Session) -> None:
    campaign = make_campaign(session)
    assert campaign.id is not None
    add_contacts(session, campaign, 3)
    leased = claim(session, campaign, limit=3, owner="mine")
    # The leases expire and another run takes the contacts.
    later = NOW + timedelta(minutes=5)
    stolen = claim(session, campaign, limit=3, owner="other", now=later)
    assert len(stolen) == 3

    recorded = batches.create(
        session=session,
        campaign_id=campaign.id,
        contacts=leased,
        lease_owner="mine",
        from_number="+14155550100",
        timezone="America/New_York",
        variant="default",
        agent_id="agent_abc",
        agent_version=None,
        trigger_at=None,
        call_time_window={"windows": [{"start": 0, "end": 1440}]},
        now=later,
    )
    session.commit()

    assert recorded is None  # every lease was lost: nothing written
    assert session.exec(select(BatchSubmission)).all() == []


def test_attempts_are_numbered_per_contact_and_contacts_dial(session: Session) -> None:
    campaign = make_campaign(session)
    assert campaign.id is not None
    add_contacts(session, campaign, 2)

    batch, attempts = lease_into_batch(session, campaign.id, now=NOW)

    assert batch.task_count == 2
    assert [a.attempt_number for a in attempts] == [1, 1]
    assert {a.batch_id for a in attempts} == {batch.id}
    assert {a.state for a in attempts} == {AttemptState.PENDING_SEND}
    contact = contacts.get(session=session, contact_id=attempts[0].contact_id)
    assert contact.status == ContactStatus.DIALING
    assert contact.lease_owner is None


def test_a_batch_sent_by_another_run_stays_sent_and_keeps_its_id(session: Session) -> None:
    campaign = make_campaign(session)
    assert campaign.id is not None
    add_contacts(session, campaign, 2)
    batch, _ = lease_into_batch(session, campaign.id, now=NOW)
    assert batch.id is not None

    batches.mark_sent(session=session, batch_id=batch.id, retell_batch_id="batch_call_1")
    session.commit()
    # A second run, which saw only a lost answer, adopts it, then (too late) gives it up.
    batches.mark_sent(session=session, batch_id=batch.id, retell_batch_id=None)
    session.commit()
    changed = batches.mark_send_failed(
        session=session, batch_id=batch.id, ambiguous=False, detail="lost"
    )
    session.commit()

    assert changed == []
    stored = session.get(BatchSubmission, batch.id, populate_existing=True)
    assert stored is not None
    assert (stored.state, stored.retell_batch_id) == (BatchState.SENT, "batch_call_1")
    assert [b.id for b in batches.unfinished(session=session, campaign_id=campaign.id)] == [
        batch.id
    ]
    states = {a.state for a in session.exec(select(CallAttempt))}
    assert states == {AttemptState.SENT}


def test_only_tasks_without_a_call_and_not_final_expire(session: Session) -> None:
    campaign = make_campaign(session)
    assert campaign.id is not None
    add_contacts(session, campaign, 3)
    batch, recorded = lease_into_batch(session, campaign.id, now=NOW)
    assert batch.id is not None
    batches.mark_sent(session=session, batch_id=batch.id, retell_batch_id="batch_call_1")
    dialed, settled, undialed = (session.get(CallAttempt, attempt.id) for attempt in recorded)
    assert dialed is not None
    assert settled is not None
    assert undialed is not None
    dialed.retell_call_id = "call_1"
    settled.finalized = True
    session.add_all([dialed, settled])
    session.commit()

    expired = batches.expire_undialed(session=session, batch_id=batch.id, detail="never dialed")
    session.commit()

    assert [attempt.id for attempt in expired] == [undialed.id]
    session.expire_all()
    assert [
        (a.state, a.error_detail)
        for a in session.exec(select(CallAttempt).order_by(col(CallAttempt.id)))
    ] == [
        (AttemptState.SENT, None),
        (AttemptState.SENT, None),
        (AttemptState.ERROR, "never dialed"),
    ]


def test_a_batch_was_last_dialed_at_its_latest_call_start_end_or_analysis(
    session: Session,
) -> None:
    campaign = make_campaign(session)
    assert campaign.id is not None
    add_contacts(session, campaign, 2)
    batch, recorded = lease_into_batch(session, campaign.id, now=NOW)
    assert batch.id is not None
    assert batches.last_dialed_at(session=session, batch_id=batch.id) is None
    first, second = (session.get(CallAttempt, attempt.id) for attempt in recorded)
    assert first is not None
    assert second is not None

    first.start_timestamp = NOW + timedelta(minutes=1)
    session.add(first)
    session.commit()
    assert batches.last_dialed_at(session=session, batch_id=batch.id) == NOW + timedelta(minutes=1)
    first.end_timestamp = NOW + timedelta(minutes=2)
    second.analysis_at = NOW + timedelta(minutes=3)
    session.add_all([first, second])
    session.commit()
    assert batches.last_dialed_at(session=session, batch_id=batch.id) == NOW + timedelta(minutes=3)
