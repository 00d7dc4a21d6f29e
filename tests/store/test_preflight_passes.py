"""The preflight's store on both backends: passes found by fingerprint (a newer one replaces the
old), and the contacts that could be dialed counted for its estimate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaigner.store import Engine, Session, claims, preflight_passes, transaction
from tests.store.factories import NOW, add_contacts, make_campaign

MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_a_pass_is_found_by_its_fingerprint_and_a_newer_one_replaces_it(engine: Engine) -> None:
    with transaction(engine) as session:
        assert preflight_passes.passed_at(session=session, fingerprint="a" * 64) is None
        preflight_passes.record(
            session=session, fingerprint="a" * 64, campaign="shop", checked_at=MONDAY
        )
    later = MONDAY + timedelta(hours=3)
    with transaction(engine) as session:
        preflight_passes.record(
            session=session, fingerprint="a" * 64, campaign="shop", checked_at=later
        )
    with transaction(engine) as session:
        assert preflight_passes.passed_at(session=session, fingerprint="a" * 64) == later
        assert preflight_passes.passed_at(session=session, fingerprint="b" * 64) is None


def test_contacts_that_could_be_dialed_are_counted_by_zone_set_due_or_waiting(
    session: Session,
) -> None:
    campaign = make_campaign(session)
    add_contacts(session, campaign, 2)
    add_contacts(session, campaign, 1, start=10, timezones=["America/Denver", "America/Phoenix"])
    add_contacts(session, make_campaign(session, "other"), 3, start=30)
    mountain = ("America/Denver", "America/Phoenix")

    def counted(now: datetime) -> dict[tuple[str, ...], claims.ZoneSetDue]:
        return claims.due_by_zone_set(session=session, campaign_id=campaign.id or 0, now=now)

    # Imported at NOW, so due from NOW on.
    assert counted(NOW - timedelta(minutes=1)) == {
        ("America/New_York",): claims.ZoneSetDue(due=0, waiting=2),
        mountain: claims.ZoneSetDue(due=0, waiting=1),
    }
    assert counted(NOW) == {
        ("America/New_York",): claims.ZoneSetDue(due=2, waiting=0),
        mountain: claims.ZoneSetDue(due=1, waiting=0),
    }
