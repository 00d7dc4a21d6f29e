"""`when_transaction_ends`: work outside the database that follows a unit of work's fate."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from campaigner.store import Campaign, session_factory, when_transaction_ends


def follow(session: Session) -> list[str]:
    """The outcomes reported for the session's transaction (begun here: none was), as they
    come."""
    ends: list[str] = []
    when_transaction_ends(
        session,
        committed=lambda: ends.append("committed"),
        abandoned=lambda: ends.append("abandoned"),
    )
    return ends


@pytest.mark.parametrize(
    ("end", "outcome"),
    [(Session.commit, "committed"), (Session.rollback, "abandoned"), (Session.close, "abandoned")],
)
def test_the_transaction_reports_its_outcome_once(
    engine: Engine, end: Callable[[Session], None], outcome: str
) -> None:
    with session_factory(engine)() as session:
        ends = follow(session)
        with session.begin_nested():  # a savepoint's end is not the transaction's
            session.exec(select(func.count()).select_from(Campaign)).one()
        assert ends == []
        end(session)
        assert ends == [outcome]
        session.exec(select(func.count()).select_from(Campaign)).one()
        session.commit()  # a later transaction of the same session
        assert ends == [outcome]
