"""Sending an attempt's create request, paced, and recording what Retell answered.

Nothing reaches Retell without the store's right to send it (a claim, `attempts.claim_*`): a
first send is claimed by the direct dialer before it is handed here, and a send that then waited
longer than `SEND_RECHECK_AFTER` for the rate limiter, and every resend, is claimed again right
before it goes. An answer is one of three things:

- a call: its id is written with the next turn's results (`record_sent`) and the call followed;
- no answer, or one that does not parse: the attempt is in doubt, for the reconciler to resolve;
- a refusal: no call exists; what that means for the contact and the campaign is decided here.
"""

from __future__ import annotations

import logging
from typing import Any

from campaigner.campaign import AgentVariant, CampaignConfig, OutcomeClass
from campaigner.dialer.breakers import Breakers
from campaigner.dialer.calls import call_metadata, variant_for
from campaigner.dialer.clock import Clock
from campaigner.dialer.pacing import TokenBucket
from campaigner.dialer.reconcile import Reconciler
from campaigner.dialer.refusals import (
    ACCOUNT_ERRORS,
    CONFIG_ERRORS,
    refusal_concerns_contact,
    refused_call_outcome,
)
from campaigner.dialer.results import settle_unsent
from campaigner.dialer.slots import SlotLedger
from campaigner.dialer.sync import ResultSync
from campaigner.retell import (
    AmbiguousCreate,
    BadRequest,
    Call,
    RateLimited,
    ResponseFormatError,
    RetellClient,
    RetellError,
)
from campaigner.store import CallAttempt, Contact, Engine, attempts, transaction

__all__ = ["SEND_RECHECK_AFTER", "CreateSender"]

log = logging.getLogger(__name__)

SEND_RECHECK_AFTER = 1.0
"""Seconds a claimed create may wait for the rate limiter before it needs the store's right
again: well inside a run lease (5 s), so a run paused past its lease finds out before it sends."""


class CreateSender:
    """Sends claimed attempts' creates through one token bucket, and resends attempts in doubt."""

    def __init__(
        self,
        *,
        config: CampaignConfig,
        engine: Engine,
        client: RetellClient,
        clock: Clock,
        ledger: SlotLedger,
        reconciler: Reconciler,
        sync: ResultSync,
        breakers: Breakers,
        max_retries: int,
    ) -> None:
        self._config = config
        self._engine = engine
        self._client = client
        self._clock = clock
        self._ledger = ledger
        self._reconciler = reconciler
        self._sync = sync
        self._breakers = breakers
        self._max_retries = max_retries
        self._bucket = TokenBucket(config.caps.calls_per_second, clock=clock)
        self._sent: list[tuple[int, str]] = []
        # Claimed attempts whose send was cancelled before its request left.
        self._cancelled: list[int] = []
        self.calls_placed = 0

    async def send_claimed(self, attempt: CallAttempt, contact: Contact, claimed_at: float) -> None:
        """Send a claimed attempt's create request when the token bucket allows. A wait longer
        than `SEND_RECHECK_AFTER` since the claim (the process may have been paused past its
        lease) needs the store's right once more, as a resend does: a run that lost its lease
        meanwhile sends nothing it no longer owns. The caller counted it in `ledger.sending`."""
        assert attempt.id is not None
        handed_over = False
        try:
            await self._bucket.acquire()
            handed_over = True
            waited = self._clock.monotonic() - claimed_at
            if waited > SEND_RECHECK_AFTER and not self._reconciler.claim_resend(
                attempt.id, owner=self._ledger.owner
            ):
                # Not provably this run's and safe to send now: resolved like any attempt in
                # doubt (looked up, resent only while Retell remembers its key).
                self._reconciler.hold(attempt.id)
                return
            await self._send(attempt, contact)
        finally:
            self._ledger.sending -= 1
            if not handed_over:
                # Cancelled while it waited for the rate limiter: claimed but never sent.
                self._cancelled.append(attempt.id)

    async def resend(self, attempt: CallAttempt, contact: Contact) -> None:
        """Re-send an attempt in doubt with its own key, paced like any create: after the rate
        limiter's wait, looked up once more and claimed in the store right before it goes."""
        assert attempt.id is not None
        self._ledger.sending += 1
        try:
            await self._bucket.acquire()
            if await self._reconciler.lookup(attempt.id) is not False:
                return
            if self._reconciler.claim_resend(attempt.id, owner=self._ledger.owner):
                await self._send(attempt, contact)
        finally:
            self._ledger.sending -= 1

    async def _send(self, attempt: CallAttempt, contact: Contact) -> None:
        """Send (or re-send, same key) an attempt's create request and record the answer."""
        assert attempt.id is not None
        assert contact.id is not None
        attempt_id = attempt.id
        # The attempt row keeps numeric versions only; a tag such as "latest" comes from the file.
        variant = variant_for(self._config, attempt.variant)
        metadata = call_metadata(self._config, contact, attempt)
        for _ in range(self._max_retries):
            try:
                call = await self._create(attempt, contact, variant, metadata)
            except RateLimited as error:
                # Retell refused without doing anything; the next try is a resend of the
                # attempt, which needs the store's right again (the waits below may outlast
                # this run's lease, or Retell's memory of the key).
                self._bucket.throttled(error.retry_after)
                await self._ledger.capacity.refresh(force=True)
                await self._bucket.acquire()
                if not self._reconciler.claim_resend(attempt_id, owner=self._ledger.owner):
                    self._reconciler.hold(attempt_id)
                    return
                continue
            except (AmbiguousCreate, ResponseFormatError) as error:
                # A 2xx answer that does not parse still means Retell placed the call.
                self._record_failure(attempt_id, ambiguous=True, detail=str(error))
                self._reconciler.hold(attempt_id)
                return
            except RetellError as error:
                self._refused(attempt_id, contact, error)
                return
            self._bucket.succeeded()
            self._breakers.note_placed()
            # Written with the next turn's results: until then a crash leaves an attempt without
            # a call id, which the next run finds by its metadata like any lost answer.
            self._sent.append((attempt_id, call.call_id))
            self._reconciler.resolved(attempt_id)
            self._sync.follow(call.call_id, attempt_id=attempt_id, contact_id=contact.id)
            self.calls_placed += 1
            return
        self._settle(attempt_id, contact.id, OutcomeClass.CAPACITY, "rate limited on every try")

    async def _create(
        self,
        attempt: CallAttempt,
        contact: Contact,
        variant: AgentVariant,
        metadata: dict[str, Any],
    ) -> Call:
        """One create request, counted as on the wire while it is."""
        self._ledger.creating += 1
        try:
            return await self._client.create_phone_call(
                from_number=attempt.from_number,
                to_number=contact.phone_e164,
                idempotency_key=attempt.idempotency_key,
                override_agent_id=attempt.agent_id,
                override_agent_version=variant.version,
                metadata=metadata,
                dynamic_variables=contact.dynamic_variables,
                # Retell's own do-not-call list is checked too, beside campaigner's.
                honor_internal_dnc=True,
            )
        finally:
            self._ledger.creating -= 1

    def _refused(self, attempt_id: int, contact: Contact, error: RetellError) -> None:
        """Retell refused a create, so no call exists: decide what that means."""
        assert contact.id is not None
        detail = str(error)
        if isinstance(error, ACCOUNT_ERRORS + CONFIG_ERRORS):
            what = "the account" if isinstance(error, ACCOUNT_ERRORS) else "the agent or number"
            self._breakers.trip(f"Retell refused {what}: {detail}")
            self._settle(attempt_id, contact.id, OutcomeClass.ACCOUNT_ERROR, detail, blameless=True)
        elif isinstance(error, BadRequest) and refusal_concerns_contact(error, contact.phone_e164):
            self._breakers.note_refusal(error.message)
            self._settle(attempt_id, contact.id, refused_call_outcome(error), detail)
        elif isinstance(error, BadRequest):
            # Not about the contact: withdrawn uncounted, the contact is due again on resume.
            self._breakers.trip(f"Retell refused the campaign's setup: {detail}")
            self._settle(attempt_id, contact.id, OutcomeClass.ACCOUNT_ERROR, detail, blameless=True)
        else:
            self._settle(
                attempt_id, contact.id, OutcomeClass.TRANSIENT_FAILURE, detail, blameless=True
            )

    def _settle(
        self,
        attempt_id: int,
        contact_id: int,
        outcome: OutcomeClass,
        detail: str,
        *,
        blameless: bool = False,
    ) -> None:
        """An attempt that placed no call, settled; its outcome counts for the breakers unless
        it says nothing about the contact (`blameless`)."""
        with transaction(self._engine) as session:
            settled = settle_unsent(
                session,
                config=self._config,
                attempt_id=attempt_id,
                contact_id=contact_id,
                outcome=outcome,
                detail=detail,
                now=self._clock.now(),
                blameless=blameless,
            )
        if settled and not blameless:
            self._breakers.note_outcome(outcome, None)

    def _record_failure(self, attempt_id: int, *, ambiguous: bool, detail: str) -> None:
        with transaction(self._engine) as session:
            attempts.mark_send_failed(
                session=session, attempt_id=attempt_id, ambiguous=ambiguous, detail=detail
            )

    def record_sent(self) -> None:
        """Record the call ids of the creates Retell answered since the last call."""
        if self._sent:
            sent, self._sent = self._sent, []
            with transaction(self._engine) as session:
                attempts.mark_sent(session=session, sent=sent, sent_at=self._clock.now())

    def withdraw_cancelled(self) -> None:
        """Sends cancelled while they waited for the rate limiter (the run ends): claimed but
        never sent; their contacts are due again."""
        ids, self._cancelled = self._cancelled, []
        if ids:
            with transaction(self._engine) as session:
                attempts.withdraw_unsent(
                    session=session,
                    attempt_ids=ids,
                    owner=self._ledger.owner,
                    claimed=True,
                    now=self._clock.now(),
                )
