"""Several workers claiming from one campaign at once never get the same contact."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.engine import Engine
from sqlmodel import select

from campaigner.store import Contact, claim_due_contacts, create_attempt, session_factory
from tests.store.factories import NOW, add_contacts, make_campaign

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
            while batch := claim_due_contacts(
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
