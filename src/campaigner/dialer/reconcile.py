"""Creates of unknown outcome, and what other runs left: resolved without a second call.

A create whose answer was lost (a timeout, a dropped connection, a 5xx, a crash between the
send right and the answer) may or may not have placed a call. Its attempt (`ambiguous` in the
store) keeps a slot and is reconciled by its owner, and only by its owner:

1. Looked up by its metadata through `list-calls`, and adopted if Retell has it.
2. Otherwise, while the campaign is dialing and the contact may be called now, sent again with
   its own idempotency key, so that Retell answers with the existing call rather than placing a
   second one. Retell remembers a key for an hour **on its own clock**, so a resend is claimed
   in the store (`attempts.claim_resend`) only while the key was first used less than
   `RESEND_WITHIN` ago by the time in Retell's latest answer (`ServerClock`): never by ours.
3. A key Retell has forgotten is never sent again. Once it was first used `GIVE_UP_AFTER` ago
   on Retell's clock and the call is still not found, the create placed no call: the attempt is
   settled as such, not counted, and the contact is due again (with a new attempt and key).
   Should the call show up after all, it is recorded as a second call of the attempt
   (`results.record_call_results`) and counted.

Attempts whose owner's lease is gone (the run ended, died, or was paused past its lease) are
taken over by a live run every `reconcile_interval` (`attempts.take_over`): those never handed to
Retell are withdrawn at once, those in doubt are reconciled by their new owner.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import timedelta

from campaigner.campaign import CampaignConfig, OutcomeClass
from campaigner.dialer.clock import Clock
from campaigner.dialer.groups import CallableGroup
from campaigner.dialer.results import settle_unsent
from campaigner.dialer.sync import ResultSync
from campaigner.retell import Call, RetellClient, RetellError, call_filter
from campaigner.store import (
    CallAttempt,
    Contact,
    Engine,
    attempts,
    contacts,
    session_factory,
    transaction,
)

__all__ = ["GIVE_UP_AFTER", "IDEMPOTENCY_WINDOW", "RESEND_WITHIN", "Reconciler"]

log = logging.getLogger(__name__)

IDEMPOTENCY_WINDOW = timedelta(hours=1)
"""How long Retell returns the existing call for a repeated `idempotency_key`."""

RESEND_WITHIN = IDEMPOTENCY_WINDOW / 2
"""A resend is claimed only while its key's first use is younger than this on Retell's clock:
the other half of the hour covers the time from Retell's latest Date to the resend's arrival."""

GIVE_UP_AFTER = 2 * IDEMPOTENCY_WINDOW
"""A create whose call is still not found this long after its key's first use (Retell's clock)
placed none: any call it made would have ended and be listed by then."""

# A Date older than this (our monotonic seconds) is no bound on Retell's time for a resend.
_FRESH_DATE_SECONDS = 2.0


class Reconciler:
    """The attempts in doubt this run owns (`ambiguous`), and how each is resolved.

    `reconcile` answers with the attempts to send again; the caller resends each (paced like any
    create, after its own `lookup` and `claim_resend`). `adopted` counts the calls found this way
    whose create this run sent (not those it took over).
    """

    def __init__(
        self,
        *,
        config: CampaignConfig,
        engine: Engine,
        client: RetellClient,
        clock: Clock,
        sync: ResultSync,
    ) -> None:
        self._config = config
        self._engine = engine
        self._session = session_factory(engine)
        self._client = client
        self._clock = clock
        self._sync = sync
        self.ambiguous: set[int] = set()
        self.adopted = 0
        self._inherited: set[int] = set()

    def follow_unfinished(self, campaign_id: int) -> None:
        """Follow the calls earlier runs placed that are not settled yet."""
        with self._session() as session:
            unfinished = attempts.unfinished(session=session, campaign_id=campaign_id)
        for attempt in unfinished:
            if attempt.retell_call_id and attempt.id is not None:
                self._sync.follow(
                    attempt.retell_call_id, attempt_id=attempt.id, contact_id=attempt.contact_id
                )

    def take_over(self, campaign_id: int, *, owner: str, live_owners: Collection[str]) -> None:
        """Own the campaign's attempts whose owner is not among `live_owners`: the unsent are
        withdrawn by the store, those in doubt are reconciled from now on."""
        with transaction(self._engine) as session:
            in_doubt = attempts.take_over(
                session=session,
                campaign_id=campaign_id,
                owner=owner,
                live_owners=live_owners,
                now=self._clock.now(),
            )
        self._inherited.update(in_doubt)
        self.ambiguous.update(in_doubt)

    def forget_all(self) -> None:
        """This run lost its lease: what it owned is for whoever takes it over (this run too,
        under its new name)."""
        self.ambiguous.clear()
        self._inherited.clear()

    def take_over_analyses(self, campaign_id: int) -> None:
        """Follow the connected calls an earlier run settled whose analysis had not come when it
        stopped. Called once no other run of the campaign is live (else it waits for them)."""
        now = self._clock.now()
        with self._session() as session:
            unanalysed = attempts.awaiting_analysis(
                session=session,
                campaign_id=campaign_id,
                ended_since=now - self._config.analysis_timeout,
            )
        for attempt in unanalysed:
            if attempt.retell_call_id and attempt.id is not None:
                self._sync.follow_for_analysis(
                    attempt.retell_call_id,
                    attempt_id=attempt.id,
                    contact_id=attempt.contact_id,
                    ended_at=attempt.end_timestamp,
                )

    def hold(self, attempt_id: int) -> None:
        """An attempt of this run is in doubt (its create's answer was lost, or its right to
        send could not be proven): it keeps its slot until resolved."""
        self.ambiguous.add(attempt_id)

    def resolved(self, attempt_id: int) -> None:
        """Retell answered the attempt's create: it is no longer in doubt."""
        self.ambiguous.discard(attempt_id)

    def in_doubt(self) -> int:
        """How many attempts this run holds in doubt."""
        return len(self.ambiguous)

    async def reconcile(self, *, owner: str, replay: bool) -> list[tuple[CallAttempt, Contact]]:
        """Resolve the attempts in doubt, without ever placing a second call.

        Each is looked up by its metadata and adopted if Retell has it. If not, and (`replay`)
        the campaign is dialing and the contact may be called now, it is returned to be sent
        again; a create whose key Retell has long forgotten is settled as having placed no call.
        """
        now = self._clock.now()
        resend: list[tuple[CallAttempt, Contact]] = []
        for attempt_id in sorted(self.ambiguous):
            with self._session() as session:
                attempt = attempts.in_doubt(session=session, attempt_id=attempt_id, owner=owner)
                contact = (
                    contacts.get(session=session, contact_id=attempt.contact_id)
                    if attempt is not None
                    else None
                )
            if attempt is None or contact is None:
                # Answered, settled or taken over meanwhile: no longer this run's to resolve.
                self.ambiguous.discard(attempt_id)
                continue
            found = await self.lookup(attempt_id)
            if found is not False:
                continue
            if self.settle_if_forgotten(attempt):
                continue
            if replay and CallableGroup.of(contact).callable_at(self._config.window, now):
                resend.append((attempt, contact))
        return resend

    async def lookup(self, attempt_id: int) -> bool | None:
        """Look the attempt's call up by its metadata: True (and adopted) when Retell has it,
        False when it has not, None when Retell could not be asked (nothing may be decided)."""
        try:
            page = await self._client.list_calls(
                filter_criteria=call_filter(
                    metadata={"attempt": str(attempt_id), "campaign": self._config.name}
                ),
                limit=10,
            )
        except RetellError as error:
            log.warning("reconcile lookup for attempt %s failed: %s", attempt_id, error)
            return None
        if not page.items:
            return False
        self._adopt(attempt_id, page.items[0])
        return True

    def claim_resend(self, attempt_id: int, *, owner: str) -> bool:
        """Take the store's right to send the attempt again with its key: only while this run
        owns it and Retell's latest answer (less than two seconds old) shows the key's first
        use younger than `RESEND_WITHIN`."""
        retell_at_most = self._client.server_clock.at_most(stated_within=_FRESH_DATE_SECONDS)
        if retell_at_most is None:
            return False
        # Committed before the resend goes out, as the first claim is.
        with transaction(self._engine) as session:
            return attempts.claim_resend(
                session=session,
                attempt_id=attempt_id,
                owner=owner,
                key_used_since=retell_at_most - RESEND_WITHIN,
            )

    def settle_if_forgotten(self, attempt: CallAttempt) -> bool:
        """Settle an attempt in doubt whose key was first used `GIVE_UP_AFTER` ago on Retell's
        clock and whose call a lookup just did not find: it placed no call."""
        first_used = attempt.key_first_sent_at
        if attempt.id is None or first_used is None:
            return False
        if self._client.server_clock.at_least() - first_used < GIVE_UP_AFTER:
            return False
        self.ambiguous.discard(attempt.id)
        # Not the contact's doing, so not counted: the contact is due again at once.
        with transaction(self._engine) as session:
            settle_unsent(
                session,
                config=self._config,
                attempt_id=attempt.id,
                contact_id=attempt.contact_id,
                outcome=OutcomeClass.TRANSIENT_FAILURE,
                detail=(
                    "the create's answer was lost and no call was found for it before Retell "
                    "forgot its idempotency key: no call was placed"
                ),
                now=self._clock.now(),
                blameless=True,
            )
        return True

    def _adopt(self, attempt_id: int, call: Call) -> None:
        """The call found for an attempt whose create answer was lost becomes one of the run's
        calls: followed and applied like any other (counted, its cost budgeted, its analysis
        awaited), even when it has already ended."""
        self.ambiguous.discard(attempt_id)
        if attempt_id not in self._inherited:
            self.adopted += 1
        with self._session() as session:
            attempt = attempts.get(session=session, attempt_id=attempt_id)
        if attempt is None:
            return
        # A webhook may have settled the call meanwhile (found by its metadata): not counted
        # as finished twice, only followed on for its analysis.
        self._sync.follow(
            call.call_id,
            attempt_id=attempt_id,
            contact_id=attempt.contact_id,
            outcome_known=attempt.finalized,
        )
        self._sync.apply([call])
