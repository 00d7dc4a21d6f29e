"""Who may send an attempt, who takes it over, and which runs are alive: on both databases."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from campaigner.store import (
    AttemptState,
    CallAttempt,
    ContactStatus,
    attempts,
    contacts,
)
from tests.store.factories import (
    NOW,
    add_contacts,
    claim,
    make_campaign,
    mark_attempt_sent,
    write_attempt,
)

RETELL_NOW = NOW + timedelta(hours=5)  # Retell's clock need not agree with ours


def written(session: Session, count: int, owner: str = "run-a") -> list[CallAttempt]:
    campaign = make_campaign(session)
    add_contacts(session, campaign, count)
    return [write_attempt(session, c, owner) for c in claim(session, campaign, owner=owner)]


def ids(rows: list[CallAttempt]) -> list[int]:
    return [row.id or 0 for row in rows]


def stored(session: Session, attempt_id: int) -> CallAttempt | None:
    session.expire_all()
    return session.get(CallAttempt, attempt_id)


def test_an_attempt_belongs_to_the_run_that_wrote_it(session: Session) -> None:
    (attempt,) = written(session, 1)

    assert attempt.owner == "run-a"


def test_only_the_owner_claims_a_first_send_and_only_once(session: Session) -> None:
    first, second = written(session, 2)

    assert (
        attempts.claim_first_sends(
            session=session, attempt_ids=ids([first]), owner="run-b", retell_time=RETELL_NOW
        )
        == set()
    )
    session.commit()
    claimed = attempts.claim_first_sends(
        session=session, attempt_ids=ids([first, second]), owner="run-a", retell_time=RETELL_NOW
    )
    session.commit()
    again = attempts.claim_first_sends(
        session=session, attempt_ids=ids([first]), owner="run-a", retell_time=RETELL_NOW
    )
    session.commit()

    assert claimed == {first.id, second.id}
    assert again == set()
    row = stored(session, first.id or 0)
    assert row is not None
    assert (row.state, row.key_first_sent_at) == (AttemptState.AMBIGUOUS, RETELL_NOW)


def test_a_resend_is_claimed_only_by_the_owner_while_the_key_is_young(session: Session) -> None:
    first, answered = written(session, 2)
    attempts.claim_first_sends(
        session=session, attempt_ids=ids([first, answered]), owner="run-a", retell_time=RETELL_NOW
    )
    session.commit()
    mark_attempt_sent(session=session, attempt_id=answered.id or 0, retell_call_id="call_1")

    def claim_resend(attempt: CallAttempt, owner: str, since: timedelta) -> bool:
        claimed = attempts.claim_resend(
            session=session,
            attempt_id=attempt.id or 0,
            owner=owner,
            key_used_since=RETELL_NOW + since,
        )
        session.commit()
        return claimed

    assert claim_resend(first, "run-a", -timedelta(minutes=30))
    assert claim_resend(first, "run-a", timedelta(0))
    assert not claim_resend(first, "run-a", timedelta(seconds=1))  # the key is too old
    assert not claim_resend(first, "run-b", -timedelta(minutes=30))  # not its owner
    assert not claim_resend(answered, "run-a", -timedelta(minutes=30))  # it has its call


def test_an_unclaimed_attempt_is_never_resent(session: Session) -> None:
    (attempt,) = written(session, 1)

    assert not attempts.claim_resend(
        session=session,
        attempt_id=attempt.id or 0,
        owner="run-a",
        key_used_since=RETELL_NOW - timedelta(days=1),
    )
    session.commit()


def test_take_over_withdraws_the_unsent_and_keeps_those_in_doubt(session: Session) -> None:
    unsent, in_doubt, answered = written(session, 3, owner="gone")
    attempts.claim_first_sends(
        session=session, attempt_ids=ids([in_doubt, answered]), owner="gone", retell_time=NOW
    )
    session.commit()
    mark_attempt_sent(session=session, attempt_id=answered.id or 0, retell_call_id="call_1")
    unsent_id, unsent_contact = unsent.id or 0, unsent.contact_id

    taken = attempts.take_over(
        session=session, campaign_id=unsent.campaign_id, owner="run-b", live_owners=["run-b"]
    )
    session.commit()

    assert taken == [in_doubt.id]
    assert stored(session, unsent_id) is None
    assert contacts.get(session=session, contact_id=unsent_contact).status == (
        ContactStatus.PENDING
    )
    row = stored(session, in_doubt.id or 0)
    assert row is not None
    assert (row.owner, row.state) == ("run-b", AttemptState.AMBIGUOUS)
    kept = stored(session, answered.id or 0)
    assert kept is not None
    assert kept.owner == "gone"
    # The run that lost them can no longer send them.
    assert (
        attempts.claim_first_sends(
            session=session, attempt_ids=[unsent_id], owner="gone", retell_time=NOW
        )
        == set()
    )
    session.commit()
    assert not attempts.claim_resend(
        session=session,
        attempt_id=in_doubt.id or 0,
        owner="gone",
        key_used_since=NOW - timedelta(days=1),
    )
    session.commit()


def test_attempts_of_a_live_run_are_not_taken_over(session: Session) -> None:
    (attempt,) = written(session, 1, owner="alive")

    taken = attempts.take_over(
        session=session,
        campaign_id=attempt.campaign_id,
        owner="run-b",
        live_owners=["alive", "run-b"],
    )
    session.commit()

    assert taken == []
    row = stored(session, attempt.id or 0)
    assert row is not None
    assert (row.owner, row.state) == ("alive", AttemptState.PENDING_SEND)
    assert attempts.owners_without_call(session=session, campaign_id=attempt.campaign_id) == {
        "alive"
    }


def test_only_the_owner_withdraws_and_a_claimed_attempt_only_when_asked(session: Session) -> None:
    both = ids(written(session, 2))
    attempts.claim_first_sends(
        session=session, attempt_ids=both[1:], owner="run-a", retell_time=NOW
    )
    session.commit()

    by_other = attempts.withdraw_unsent(
        session=session, attempt_ids=both, owner="run-b", claimed=True
    )
    unclaimed_only = attempts.withdraw_unsent(session=session, attempt_ids=both, owner="run-a")
    session.commit()
    left = [row.id for row in session.exec(select(CallAttempt))]
    with_claimed = attempts.withdraw_unsent(
        session=session, attempt_ids=both, owner="run-a", claimed=True
    )
    session.commit()

    assert (by_other, unclaimed_only, with_claimed) == (0, 1, 1)
    assert left == both[1:]
    assert session.exec(select(CallAttempt)).all() == []
