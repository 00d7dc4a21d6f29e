"""The concurrency ledger: runs of every campaign dialing one workspace split its slots."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

from campaigner.store import RunLease, run_leases
from campaigner.store.run_leases import CampaignDemand, allocate
from tests.store.factories import NOW, make_campaign


def demand(
    wanted: int | None = None, cap: int | None = None, priority: int = 1, order: int = 0
) -> CampaignDemand:
    return CampaignDemand(wanted=wanted, cap=cap, priority=priority, order=order)


def hold(
    session: Session,
    owner: str,
    campaign_id: int,
    *,
    workspace: str = "w",
    workspace_slots: int = 6,
    calls_in_progress: int = 0,
    wanted: int | None = None,
    stale: dict[str, int] | None = None,
    now: datetime = NOW,
) -> run_leases.RunShare:
    """Renew `owner`'s lease (priority 1, no cap, 5 s) and commit, as a run does."""
    share = run_leases.hold(
        session=session,
        owner=owner,
        campaign_id=campaign_id,
        workspace=workspace,
        workspace_slots=workspace_slots,
        calls_in_progress=calls_in_progress,
        wanted=wanted,
        priority=1,
        campaign_cap=None,
        seconds=5,
        stale=stale,
        now=now,
    )
    session.commit()
    return share


@pytest.mark.parametrize(
    ("pool", "demands", "shares"),
    [
        # Even split, the remainder by order.
        (20, {1: demand(order=0), 2: demand(order=1), 3: demand(order=2)}, {1: 7, 2: 7, 3: 6}),
        # What one cannot use (its cap, what it wants) goes to the others.
        (20, {1: demand(cap=2), 2: demand(), 3: demand(wanted=3)}, {1: 2, 2: 15, 3: 3}),
        # By priority.
        (12, {1: demand(priority=4), 2: demand(order=1), 3: demand(order=2)}, {1: 8, 2: 2, 3: 2}),
        # Fewer slots than campaigns: one each, the higher priority first.
        (
            2,
            {1: demand(order=0), 2: demand(priority=3, order=1), 3: demand(order=2)},
            {1: 1, 2: 1, 3: 0},
        ),
        # A campaign that wants nothing gets nothing; no pool, nothing for anyone.
        (6, {1: demand(wanted=0), 2: demand()}, {1: 0, 2: 6}),
        (-3, {1: demand(), 2: demand()}, {1: 0, 2: 0}),
    ],
)
def test_the_pool_is_split_by_priority_and_what_each_campaign_can_use(
    pool: int, demands: dict[int, CampaignDemand], shares: dict[int, int]
) -> None:
    assert allocate(pool, demands) == shares


def test_campaigns_of_one_workspace_share_it_and_another_workspace_is_apart(
    session: Session,
) -> None:
    north = make_campaign(session, "north").id or 0
    south = make_campaign(session, "south").id or 0

    def slots(owner: str, campaign: int, workspace: str = "w", wanted: int | None = None) -> int:
        return hold(session, owner, campaign, workspace=workspace, wanted=wanted).slots

    assert slots("n", north) == 6  # alone in the workspace
    assert slots("s", south) == 0  # north still holds all six
    assert slots("n", north) == 3  # north shrinks to its half
    assert slots("s", south) == 3
    assert slots("other", north, workspace="elsewhere") == 6  # another workspace: its own pool
    # South wants only one more slot than it has: north gets the rest back.
    assert slots("s", south, wanted=1) == 1
    assert slots("n", north) == 5


def test_runs_split_the_slots_and_a_stale_lease_is_dropped_only_if_its_beat_stood_still(
    session: Session,
) -> None:
    campaign_id = make_campaign(session).id or 0

    def renew(owner: str, stale: dict[str, int] | None = None) -> run_leases.RunShare:
        return hold(
            session, owner, campaign_id, workspace_slots=5, calls_in_progress=1, stale=stale
        )

    assert renew("a").slots == 5
    assert renew("b").slots == 0  # a holds all five until it renews
    assert renew("a").slots == 3  # the oldest lease takes the remainder
    share = renew("b")
    assert (share.slots, share.beats, share.renewed) == (2, {"a": 1}, True)
    # b names a stale at beat 0, but a renewed since: a is kept.
    assert renew("b", stale={"a": 0}).others == ("a",)
    # a's beat stood still at 1: b drops it and holds everything.
    assert renew("b", stale={"a": 1}).slots == 5
    # a comes back (it was paused): its row is gone, so it learns it lost its lease.
    assert not renew("a").renewed
    run_leases.drop(session=session, owner="b")
    session.commit()
    assert renew("c").others == ("a",)


@given(
    pool=st.integers(min_value=-5, max_value=200),
    campaigns=st.lists(
        st.tuples(
            st.one_of(st.none(), st.integers(min_value=0, max_value=60)),
            st.one_of(st.none(), st.integers(min_value=1, max_value=60)),
            st.integers(min_value=1, max_value=10),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_every_slot_the_campaigns_can_use_is_given_and_none_beyond(
    pool: int, campaigns: list[tuple[int | None, int | None, int]]
) -> None:
    demands = {
        index: demand(wanted=wanted, cap=cap, priority=priority, order=index)
        for index, (wanted, cap, priority) in enumerate(campaigns)
    }
    shares = allocate(pool, demands)
    limits = {index: each.limit(max(pool, 0)) for index, each in demands.items()}
    assert sum(shares.values()) == min(max(pool, 0), sum(limits.values()))
    assert all(0 <= shares[index] <= limits[index] for index in demands)
    # Weighted fairness, to a slot of rounding: a campaign held below its limit has, per unit
    # of priority, no less than any other campaign has.
    for short, other in ((a, b) for a in demands for b in demands if a != b):
        if shares[short] < limits[short]:
            short_per_unit = (shares[short] + 1) / demands[short].priority
            other_per_unit = (shares[other] - 1) / demands[other].priority
            assert other_per_unit <= short_per_unit + 1e-9


def test_rows_of_runs_long_gone_are_dropped(session: Session) -> None:
    campaign = make_campaign(session).id or 0
    for owner, at in (("gone", NOW - timedelta(hours=3)), ("live", NOW)):
        hold(session, owner, campaign, workspace_slots=4, now=at)

    dropped = run_leases.drop_expired(session=session, before=NOW - timedelta(hours=1))
    session.commit()

    assert dropped == 1
    assert [row.owner for row in session.exec(select(RunLease))] == ["live"]
