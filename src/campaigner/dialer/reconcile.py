"""Creates of unknown outcome, and what a previous run left: resolved without a second call.

A create whose answer was lost (a timeout, a dropped connection, a 5xx, a crash between the
attempt row and the answer) may or may not have placed a call. Its attempt keeps a slot and is
reconciled: first looked up by its metadata through `list-calls` (adopted if found), then, if the
campaign is dialing and the contact may be called now, re-sent with its own idempotency key, so
Retell answers with the existing call rather than placing a second one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.engine import Engine

from campaigner.campaign import CampaignConfig
from campaigner.dialer.clock import Clock
from campaigner.dialer.sync import ResultSync
from campaigner.dialer.windows import is_callable_at
from campaigner.retell import Call, RetellClient, RetellError, call_filter
from campaigner.store import (
    CallAttempt,
    Contact,
    attempts_awaiting_analysis,
    attempts_without_call_id,
    get_contact,
    other_live_runs,
    session_factory,
    take_over_unsent_attempts,
    unfinished_attempts,
)

__all__ = ["Reconciler"]

log = logging.getLogger(__name__)


class Reconciler:
    """Tracks attempts whose create may have placed a call (`ambiguous`) and resolves them.

    `resend` re-sends an attempt's create with its own key (paced like any create); `on_adopted`
    hears of each call found this way whose create this run sent (not those a previous run left).
    """

    def __init__(
        self,
        *,
        config: CampaignConfig,
        engine: Engine,
        client: RetellClient,
        clock: Clock,
        sync: ResultSync,
        resend: Callable[[CallAttempt, Contact], Awaitable[None]],
        on_adopted: Callable[[], None],
    ) -> None:
        self._config = config
        self._session = session_factory(engine)
        self._client = client
        self._clock = clock
        self._sync = sync
        self._resend = resend
        self._on_adopted = on_adopted
        self.ambiguous: set[int] = set()
        self._inherited: set[int] = set()

    def take_over(self, campaign_id: int) -> None:
        """Follow what a previous run left: calls in flight, and creates of unknown outcome."""
        with self._session() as session:
            unfinished = unfinished_attempts(session=session, campaign_id=campaign_id)
            unsent = take_over_unsent_attempts(session=session, campaign_id=campaign_id)
        for attempt in unfinished:
            if attempt.retell_call_id and attempt.id is not None:
                self._sync.follow(
                    attempt.retell_call_id, attempt_id=attempt.id, contact_id=attempt.contact_id
                )
        self._inherited = set(unsent)
        self.ambiguous.update(self._inherited)

    def take_over_analyses(self, campaign_id: int, *, owner: str) -> None:
        """Follow the connected calls an earlier run settled whose analysis had not come when it
        stopped, unless another run of the campaign is live (it waits for them itself). Called
        once this run's lease is held, which gives back the leases of killed local runs."""
        now = self._clock.now()
        with self._session() as session:
            if other_live_runs(session=session, campaign_id=campaign_id, owner=owner, now=now):
                return
            unanalysed = attempts_awaiting_analysis(
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

    async def reconcile(self, campaign_id: int, *, replay: bool) -> None:
        """Resolve ambiguous attempts, without ever placing a second call.

        First look the call up by the attempt's metadata; if Retell has it, adopt it. If not, and
        (`replay`) the campaign is dialing and the contact may be called now, re-send the create
        with the attempt's own idempotency key: Retell answers with the existing call if there is
        one, or places the attempt's call once.
        """
        now = self._clock.now()
        for attempt_id in sorted(self.ambiguous):
            try:
                page = await self._client.list_calls(
                    filter_criteria=call_filter(
                        metadata={"attempt": str(attempt_id), "campaign": self._config.name}
                    ),
                    limit=10,
                )
            except RetellError as error:
                log.warning("reconcile lookup for attempt %s failed: %s", attempt_id, error)
                continue
            if page.items:
                self._adopt(attempt_id, page.items[0])
            elif replay:
                await self._replay_if_callable(campaign_id, attempt_id, now)

    def _adopt(self, attempt_id: int, call: Call) -> None:
        """The call found for an attempt whose create answer was lost becomes one of the run's
        calls: followed and applied like any other (counted, its cost budgeted, its analysis
        awaited), even when it has already ended."""
        self.ambiguous.discard(attempt_id)
        if attempt_id not in self._inherited:
            self._on_adopted()
        with self._session() as session:
            attempt = session.get(CallAttempt, attempt_id)
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

    async def _replay_if_callable(self, campaign_id: int, attempt_id: int, now: datetime) -> None:
        with self._session() as session:
            unsent = attempts_without_call_id(session=session, campaign_id=campaign_id)
            attempt = next((a for a in unsent if a.id == attempt_id), None)
            if attempt is None:
                self.ambiguous.discard(attempt_id)
                return
            contact = get_contact(session=session, contact_id=attempt.contact_id)
        if not is_callable_at(self._config.window, contact.timezones, now):
            return
        await self._resend(attempt, contact)
