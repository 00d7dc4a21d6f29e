"""Callable groups: what claims select by, and when each group may be called."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from campaigner.campaign import CallWindow
from campaigner.dialer.groups import CallableGroup, CampaignGroups, next_callable_time
from campaigner.store import make_engine, upgrade_database
from tests.dialer.fakes import FakeClock
from tests.store.factories import add_contacts, make_campaign

WINDOW = CallWindow.model_validate({"start": "09:00", "end": "20:00"})
# A Wednesday evening: 20:30 in New York (closed), 18:30 in Denver, 17:30 in Los Angeles.
WEDNESDAY_EVENING = datetime(2026, 3, 5, 1, 30, tzinfo=UTC)
EASTERN = CallableGroup(("America/New_York",))
PACIFIC = CallableGroup(("America/Los_Angeles",))
SPANNING = CallableGroup(("America/Los_Angeles", "America/New_York"))


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade_database(engine)
    yield engine
    engine.dispose()


def test_a_group_is_callable_only_when_every_candidate_zone_allows_it() -> None:
    assert not EASTERN.callable_at(WINDOW, WEDNESDAY_EVENING)
    assert PACIFIC.callable_at(WINDOW, WEDNESDAY_EVENING)
    assert not SPANNING.callable_at(WINDOW, WEDNESDAY_EVENING)
    # Thursday 09:00 in New York is 06:00 in Los Angeles: the spanning group waits for LA's 09:00.
    assert SPANNING.next_callable_at(WINDOW, WEDNESDAY_EVENING) == datetime(
        2026, 3, 5, 17, 0, tzinfo=UTC
    )


def test_campaign_groups_are_read_again_only_after_their_refresh(engine: Engine) -> None:
    clock = FakeClock(WEDNESDAY_EVENING)
    groups = CampaignGroups(window=WINDOW, clock=clock, refresh_every=10.0)
    with Session(engine) as session:
        campaign = make_campaign(session)
        assert campaign.id is not None
        add_contacts(session, campaign, 2, timezones=["America/Los_Angeles"])
        assert groups.open_at(session, campaign.id, clock.now()) == [PACIFIC]
        add_contacts(session, campaign, 1, start=10, timezones=["America/Denver"])
        assert groups.open_at(session, campaign.id, clock.now()) == [PACIFIC]
        clock.advance(10)
        opened = groups.open_at(session, campaign.id, clock.now())
        assert opened == [CallableGroup(("America/Denver",)), PACIFIC]
        assert (
            next_callable_time(session, window=WINDOW, campaign_id=campaign.id, now=clock.now())
            == clock.now()
        )
