"""The report reads: typed columns in chunks, and one snapshot across them."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigner.store import suppression
from campaigner.store.reading import (
    CONTACT_COLUMNS,
    attempt_frames,
    contact_frames,
    snapshot,
)
from tests.store.factories import add_contacts, make_campaign, number


def test_contacts_come_in_chunks_with_their_columns(engine: Engine, session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 5)
    suppression.add(session=session, entries=[(number(3), "asked", "test")])
    session.commit()
    with snapshot(engine) as connection:
        chunks = list(
            contact_frames(connection=connection, campaign_id=campaign.id or 0, chunk_rows=2)
        )
    assert [len(chunk) for chunk in chunks] == [2, 2, 1]
    contacts = pd.concat(chunks)
    assert tuple(contacts.columns) == CONTACT_COLUMNS
    assert contacts["on_dnc_list"].tolist() == [False, False, False, True, False]
    assert contacts["original"].iloc[0] == {"Phone": number(0), "First Name": "Pat 0"}
    assert contacts["status"].tolist() == ["pending"] * 5


def test_contacts_read_back_the_phone_column_their_number_came_from(
    engine: Engine, session: Session
) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 2, phone_column="Mobile Phone Number")
    add_contacts(session, campaign, 1, start=2)
    with snapshot(engine) as connection:
        contacts = pd.concat(contact_frames(connection=connection, campaign_id=campaign.id or 0))
    assert contacts["phone_column"].fillna("(null)").tolist() == [
        "Mobile Phone Number",
        "Mobile Phone Number",
        "(null)",
    ]


def test_a_campaign_without_attempts_reads_one_empty_frame(
    engine: Engine, session: Session
) -> None:
    campaign = make_campaign(session)
    with snapshot(engine) as connection:
        frames = list(attempt_frames(connection=connection, campaign_id=campaign.id or 0))
    assert len(frames) == 1
    assert frames[0].empty


def test_reads_inside_a_snapshot_do_not_see_later_commits(engine: Engine, session: Session) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 3)
    campaign_id = campaign.id or 0
    with snapshot(engine) as connection:
        before = len(pd.concat(contact_frames(connection=connection, campaign_id=campaign_id)))
        add_contacts(session, campaign, 4, start=3)
        after = len(pd.concat(contact_frames(connection=connection, campaign_id=campaign_id)))
    assert before == after == 3
    with snapshot(engine) as connection:
        assert len(pd.concat(contact_frames(connection=connection, campaign_id=campaign_id))) == 7
