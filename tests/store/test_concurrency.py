"""Several workers at once: claims never overlap, an attempt is settled by one of them only."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine
from sqlmodel import select

from campaigner import store
from campaigner.campaign import OutcomeClass
from campaigner.store import Contact, session_factory
from tests.store.factories import NOW, add_contacts, create_attempt, finalize_attempt, make_campaign

WORKERS = 4
CONTACTS = 600


def test_concurrent_claimers_never_share_a_contact(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as session:
        campaign = make_campaign(session)
        add_contacts(session, campaign, CONTACTS)
    start = threading.Barrier(WORKERS)

    def work(owner: str) -> list[int]:
        claimed: list[int] = []
        with sessions() as session:
            start.wait()
            while batch := store.claims.claim_due(
                session=session,
                campaign_id=campaign.id or 0,
                now=NOW,
                limit=7,
                lease_owner=owner,
                lease_seconds=300,
            ):
                claimed.extend(contact.id or 0 for contact in batch)
                for contact in batch[:2]:
                    create_attempt(
                        session=session,
                        contact=contact,
                        lease_owner=owner,
                        agent_id="agent_abc",
                        agent_version=None,
                        from_number="+14155550100",
                        now=NOW,
                    )
        return claimed

    with ThreadPoolExecutor(WORKERS) as pool:
        claims = dict(
            zip(range(WORKERS), pool.map(work, [f"w{i}" for i in range(WORKERS)]), strict=True)
        )

    every_claim = [contact_id for claimed in claims.values() for contact_id in claimed]
    assert len(every_claim) == len(set(every_claim)) == CONTACTS
    assert sum(1 for claimed in claims.values() if claimed) > 1, "the workers did not overlap"
    with sessions() as session:
        owners = dict(session.exec(select(Contact.id, Contact.lease_owner)).all())
    for worker, claimed in claims.items():
        leased_to_worker = [owners[contact_id] in {f"w{worker}", None} for contact_id in claimed]
        assert all(leased_to_worker)


def test_only_one_of_several_syncers_finalizes_an_attempt(engine: Engine) -> None:
    sessions = session_factory(engine)
    with sessions() as session:
        campaign = make_campaign(session)
        add_contacts(session, campaign, 1)
        (contact,) = store.claims.claim_due(
            session=session,
            campaign_id=campaign.id or 0,
            now=NOW,
            limit=1,
            lease_owner="w",
            lease_seconds=60,
        )
        session.commit()
        attempt = create_attempt(
            session=session,
            contact=contact,
            lease_owner="w",
            agent_id="agent_abc",
            agent_version=None,
            from_number="+14155550100",
        )
    start = threading.Barrier(WORKERS)

    def finalize(_: int) -> bool:
        with sessions() as session:
            start.wait()
            won = finalize_attempt(
                session=session, attempt_id=attempt.id or 0, outcome_class=OutcomeClass.SUCCESS
            )
            session.commit()
            return won

    with ThreadPoolExecutor(WORKERS) as pool:
        winners = list(pool.map(finalize, range(WORKERS)))

    assert sorted(winners) == [False] * (WORKERS - 1) + [True]
