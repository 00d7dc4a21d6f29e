"""The attempt's life as a state machine: under any interleaving, one attempt places one call.

Two runs share a campaign in a real SQLite store; a fake Retell keeps idempotency keys for an
hour on its own clock, which jumps as hypothesis likes. Hypothesis interleaves claims, first
sends, answers, lost answers, 5xx, capacity errors, Retell's clock running on, lookups that miss
a call Retell has (list-calls lags), resends, a run declared dead and its attempts taken over
while it goes on acting on what it remembers, that run waking as a new run, and attempts
settled once Retell has forgotten their key. After every step: no attempt has two calls at
Retell, every call Retell placed has its attempt row, and the store never holds one call twice.

Each send here reaches Retell in the step that claimed it. A process paused between its claim and
its request for longer than `RESEND_WITHIN` on Retell's clock is outside what a key can protect
(docs/dialer.md, "Never twice").
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from campaigner.campaign import OutcomeClass
from campaigner.dialer.reconcile import GIVE_UP_AFTER, IDEMPOTENCY_WINDOW, RESEND_WITHIN
from campaigner.store import (
    AttemptPlan,
    CallAttempt,
    attempts,
    claims,
    make_engine,
    results,
    upgrade_database,
)
from tests.store.factories import NOW, add_contacts, finalize_attempt, make_campaign

CONTACTS = 3
OUTCOMES = ("answered", "lost", "lost and unlisted", "5xx", "capacity")
# How long list-calls may not show a call Retell has, for the "lost and unlisted" outcome.
LISTING_LAG = timedelta(hours=3)


@cache
def template() -> Path:
    path = Path(tempfile.mkdtemp(prefix="attempt-machine-")) / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade_database(engine)
    with Session(engine) as session:
        add_contacts(session, make_campaign(session), CONTACTS)
    engine.dispose()
    return path


@dataclass
class FakeRetell:
    """Calls placed, keys remembered for an hour on Retell's own clock."""

    now: datetime = NOW
    # (call id, attempt id, when list-calls shows it)
    calls: list[tuple[str, int, datetime]] = field(default_factory=list)
    keys: dict[str, tuple[str, datetime]] = field(default_factory=dict)

    def create(self, key: str, attempt_id: int, *, listing_lag: timedelta) -> str:
        remembered = self.keys.get(key)
        if remembered is not None and self.now - remembered[1] < IDEMPOTENCY_WINDOW:
            return remembered[0]
        call_id = f"call_{len(self.calls)}"
        self.calls.append((call_id, attempt_id, self.now + listing_lag))
        self.keys[key] = (call_id, self.now)
        return call_id

    def listed(self) -> list[tuple[str, int]]:
        return [(call, attempt) for call, attempt, shown in self.calls if shown <= self.now]

    def lookup(self, attempt_id: int) -> str | None:
        return next((call for call, named in self.listed() if named == attempt_id), None)


@dataclass
class Run:
    owner: str
    ready: list[int] = field(default_factory=list)
    in_doubt: set[int] = field(default_factory=set)
    lives: int = 0


class AttemptMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="attempt-machine-"))
        shutil.copy(template(), self.folder / "store.db")
        self.engine: Engine = make_engine(f"sqlite:///{self.folder / 'store.db'}")
        self.retell = FakeRetell()
        self.runs = {"a": Run("a/0"), "b": Run("b/0")}
        self.dead: set[str] = set()

    def teardown(self) -> None:
        self.engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    def session(self) -> Session:
        return Session(self.engine)

    # -- what runs do ------------------------------------------------------------------------

    @rule(run=st.sampled_from("ab"))
    def write_ahead(self, run: str) -> None:
        me = self.runs[run]
        with self.session() as session:
            leased = claims.claim_due(
                session=session,
                campaign_id=1,
                now=NOW,
                limit=1,
                lease_owner=me.owner,
                lease_seconds=30,
            )
            session.commit()
            plans = [AttemptPlan(contact, "agent_abc", None, "+14155550100") for contact in leased]
            written = attempts.create(session=session, plans=plans, lease_owner=me.owner, now=NOW)
            session.commit()
        me.ready.extend(attempt.id or 0 for attempt in written)

    @precondition(lambda self: any(run.ready for run in self.runs.values()))
    @rule(run=st.sampled_from("ab"), outcome=st.sampled_from(OUTCOMES))
    def send_first(self, run: str, outcome: str) -> None:
        me = self.runs[run]
        if not me.ready:
            return
        attempt_id = me.ready.pop(0)
        with self.session() as session:
            claimed = attempts.claim_first_sends(
                session=session,
                attempt_ids=[attempt_id],
                owner=me.owner,
                retell_time=self.retell.now,
            )
            session.commit()
        if claimed:
            self.deliver(me, attempt_id, outcome)

    @precondition(lambda self: any(run.in_doubt for run in self.runs.values()))
    @rule(data=st.data(), outcome=st.sampled_from(OUTCOMES))
    def reconcile(self, data: st.DataObject, outcome: str) -> None:
        """A run looks an attempt in doubt up, adopts its call, resends it within the key's
        half hour, or settles it once the key is long gone."""
        doubting = sorted(name for name, run in self.runs.items() if run.in_doubt)
        me = self.runs[data.draw(st.sampled_from(doubting))]
        attempt_id = data.draw(st.sampled_from(sorted(me.in_doubt)))
        with self.session() as session:
            attempt = attempts.in_doubt(session=session, attempt_id=attempt_id, owner=me.owner)
            first_used = attempt.key_first_sent_at if attempt is not None else None
        if attempt is None:
            me.in_doubt.discard(attempt_id)
            return
        found = self.retell.lookup(attempt_id)
        if found is not None:
            self.record(found, attempt_id)
            me.in_doubt.discard(attempt_id)
            return
        with self.session() as session:
            granted = attempts.claim_resend(
                session=session,
                attempt_id=attempt_id,
                owner=me.owner,
                key_used_since=self.retell.now - RESEND_WITHIN,
            )
            session.commit()
        if granted:
            self.deliver(me, attempt_id, outcome)
        elif first_used is not None and self.retell.now - first_used >= GIVE_UP_AFTER:
            with self.session() as session:
                attempts.mark_send_failed(
                    session=session, attempt_id=attempt_id, ambiguous=False, detail="no call"
                )
                session.commit()
                finalize_attempt(
                    session=session,
                    attempt_id=attempt_id,
                    outcome_class=OutcomeClass.TRANSIENT_FAILURE,
                )
                session.commit()
            me.in_doubt.discard(attempt_id)

    @rule(run=st.sampled_from("ab"))
    def take_over_the_other(self, run: str) -> None:
        """`run` judges the other dead (its beat stood still) and takes over its attempts; the
        other may still be alive and act on what it remembers."""
        me = self.runs[run]
        other = self.runs["b" if run == "a" else "a"]
        with self.session() as session:
            taken = attempts.take_over(
                session=session, campaign_id=1, owner=me.owner, live_owners=[me.owner], now=NOW
            )
            session.commit()
        me.in_doubt.update(taken)
        self.dead.add(other.owner)

    @precondition(lambda self: any(run.owner in self.dead for run in self.runs.values()))
    @rule(data=st.data())
    def wake_as_a_new_run(self, data: st.DataObject) -> None:
        """A run that was declared dead learns it at its next renewal: it goes on under a new
        name and forgets what it held."""
        woken = sorted(name for name, run in self.runs.items() if run.owner in self.dead)
        name = data.draw(st.sampled_from(woken))
        lives = self.runs[name].lives + 1
        self.runs[name] = Run(f"{name}/{lives}", lives=lives)

    @rule(minutes=st.sampled_from([1, 10, 25, 40, 70, 130]))
    def retell_clock_runs_on(self, minutes: int) -> None:
        self.retell.now += timedelta(minutes=minutes)

    @rule()
    def results_come_home(self) -> None:
        for call_id, attempt_id in self.retell.listed():
            self.record(call_id, attempt_id)

    # -- Retell's side -----------------------------------------------------------------------

    def deliver(self, me: Run, attempt_id: int, outcome: str) -> None:
        with self.session() as session:
            key = session.exec(
                select(CallAttempt.idempotency_key).where(CallAttempt.id == attempt_id)
            ).one()
        if outcome == "5xx":  # refused before anything was done; the client cannot tell
            self.in_doubt(me, attempt_id)
            return
        lag = LISTING_LAG if outcome == "lost and unlisted" else timedelta(0)
        call_id = self.retell.create(key, attempt_id, listing_lag=lag)
        if outcome in ("lost", "lost and unlisted"):
            self.in_doubt(me, attempt_id)
            return
        with self.session() as session:
            attempts.mark_sent(session=session, sent=[(attempt_id, call_id)], sent_at=NOW)
            session.commit()
        me.in_doubt.discard(attempt_id)
        if outcome == "capacity":
            self.record(call_id, attempt_id, {"call_status": "error"})

    def in_doubt(self, me: Run, attempt_id: int) -> None:
        with self.session() as session:
            attempts.mark_send_failed(
                session=session, attempt_id=attempt_id, ambiguous=True, detail="lost"
            )
            session.commit()
        me.in_doubt.add(attempt_id)

    def record(self, call_id: str, attempt_id: int, extra: dict[str, Any] | None = None) -> None:
        view = {"call_id": call_id, "metadata": {"attempt": str(attempt_id)}, **(extra or {})}
        with self.session() as session:
            results.record_call_results(session=session, views=[(view, None)], now=NOW)
            session.commit()

    # -- what must hold after every step -----------------------------------------------------

    @invariant()
    def one_call_per_attempt_and_every_call_has_its_attempt(self) -> None:
        per_attempt = Counter(attempt_id for _, attempt_id, _ in self.retell.calls)
        assert [a for a, calls in per_attempt.items() if calls > 1] == []
        with self.session() as session:
            rows = set(session.exec(select(CallAttempt.id)).all())
            call_ids = session.exec(
                select(CallAttempt.retell_call_id).where(
                    col(CallAttempt.retell_call_id).is_not(None)
                )
            ).all()
        assert set(per_attempt) <= rows
        assert len(call_ids) == len(set(call_ids))


AttemptMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_an_attempt_places_at_most_one_call = AttemptMachine.TestCase
