"""Running a campaign in direct mode: claim due contacts, dial them paced, bring results home.

One `CampaignRunner` drives one campaign until it has nothing left to do now:

1. **Catch up and reconcile** (`reconcile.py`). Calls a previous run left in flight are synced;
   attempts whose create request may or may not have placed a call (a crash, a lost answer) are
   looked up by their metadata and, inside the calling window, replayed with their own
   idempotency key, which returns the existing call rather than placing a second one.
2. **Dial** (here). Free slots are `min(campaign cap, Retell's outbound capacity - other traffic)
   - our calls in progress` (`capacity.py`); due contacts whose window is open in every candidate
   zone are leased, the attempt row (with its idempotency key) is committed, the token bucket
   paces the create request.
3. **Sync** (`sync.py`). Our calls in progress are polled with one list-calls request per 1,000 of
   them, or pushed by webhooks; each finished call goes through `apply_calls`, which settles the
   contact (retry time or final outcome).

Pause, resume and cancel are campaign statuses in the store, read on every loop, so they reach a
runner in another process within a second. Budget and circuit-breaker trips pause the campaign with
the reason. Everything per call is asyncio; nothing here imports Prefect.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from campaigner.campaign import AgentVariant, CampaignConfig, OutcomeClass
from campaigner.dialer.batching import BatchDialer, BatchOptions
from campaigner.dialer.calls import call_metadata, variant_for
from campaigner.dialer.capacity import CapacityGauge
from campaigner.dialer.clock import Clock, SystemClock
from campaigner.dialer.leases import LeaseWatch, new_run_owner
from campaigner.dialer.outcomes import REASON_OUTCOMES
from campaigner.dialer.pacing import TokenBucket
from campaigner.dialer.reconcile import Reconciler
from campaigner.dialer.refusals import ACCOUNT_ERRORS, CONFIG_ERRORS, refused_call_outcome
from campaigner.dialer.results import settle_attempts
from campaigner.dialer.sync import AppliedBatch, ResultSync
from campaigner.dialer.webhook_inbox import WebhookInbox
from campaigner.dialer.windows import earliest_callable_at, is_callable_at
from campaigner.retell import (
    AmbiguousCreate,
    BadRequest,
    Call,
    RateLimited,
    ResponseFormatError,
    RetellClient,
    RetellError,
)
from campaigner.store import (
    AttemptPlan,
    CallAttempt,
    CampaignCounts,
    CampaignStatus,
    Contact,
    Engine,
    Session,
    StatusChangeError,
    attempts,
    campaigns,
    claims,
    run_leases,
    session_factory,
    transaction,
)

__all__ = ["SEND_RECHECK_AFTER", "CampaignRunner", "RunOptions", "RunProgress", "RunSummary"]

log = logging.getLogger(__name__)

SEND_RECHECK_AFTER = 1.0
"""Seconds a claimed create may wait for the rate limiter before it needs the store's right
again: well inside a run lease (5 s), so a run paused past its lease finds out before it sends."""


@dataclass(frozen=True)
class RunOptions:
    """How a run behaves (not what the campaign is: that is `CampaignConfig`)."""

    poll_interval: float = 1.0
    webhook_poll_interval: float = 10.0
    # Webhook results are written to the store in batches at most this often (a call's end frees
    # its slot at once, without waiting for the write); at once when only analyses are awaited.
    apply_interval: float = 2.0
    # Attempts claimed and written ahead, so a freed slot is refilled without a store round trip;
    # topped up (in one claim) once half of them are used: claims of eight or more (fewer for
    # a run with fewer than 16 slots), whose statements cost about the same for one contact as
    # for eight. Never more than the run's slots: attempts one run holds ahead are contacts the
    # campaign's other runs cannot dial.
    ready_attempts: int = 16
    concurrency_refresh: float = 15.0
    # A contact is leased only from its claim to its attempt row, one transaction later: a run
    # killed in between holds it this long.
    lease_seconds: float = 30.0
    # This run's share of the campaign's concurrency, renewed every `run_lease_renew` seconds; a
    # killed run's share goes back to the others when it expires.
    run_lease_seconds: float = 5.0
    run_lease_renew: float = 1.0
    max_create_retries: int = 8
    reconcile_interval: float = 2.0
    max_reconcile_rounds: int = 10
    stuck_call_after: float = 900.0
    dial_failed_window: int = 20
    dial_failed_trip: int = 10
    status_refresh: float = 1.0
    # Progress counts the campaign's contacts and attempts on the event loop, which a large
    # campaign makes slow (bench/dialer_direct.py --progress): they are recounted only after this
    # many times as long as the last count took (and after `status_refresh`), so counting takes
    # at most about 1/20 of a run whatever the campaign's size.
    counts_cost_factor: float = 20.0
    idle_claim_interval: float = 1.0
    # Other traffic (inbound calls, another tool) may hold every slot of the workspace while
    # contacts are due: the run waits this long for a slot before it stops and says so, rather
    # than ending as if nothing were due.
    capacity_wait: float = 600.0
    zone_sets_refresh: float = 10.0
    deadline: datetime | None = None
    batch: BatchOptions = field(default_factory=BatchOptions)


@dataclass
class RunProgress:
    """A snapshot for progress displays, refreshed as the run goes."""

    campaign: str
    calls_placed: int = 0
    calls_finished: int = 0
    in_progress: int = 0
    slots: int = 0
    counts: CampaignCounts | None = None


class RunSummary(BaseModel):
    """What a run did and where the campaign stands (`campaigner run --json` prints it)."""

    campaign: str
    status: str
    stop_reason: str
    calls_placed: int
    calls_finished: int
    counts: CampaignCounts
    next_callable_at: datetime | None


class CampaignRunner:
    """Drives one campaign in direct mode; see the module docstring."""

    def __init__(
        self,
        *,
        config: CampaignConfig,
        engine: Engine,
        client: RetellClient,
        clock: Clock | None = None,
        options: RunOptions | None = None,
        on_progress: Callable[[RunProgress], None] | None = None,
        webhooks: WebhookInbox | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.client = client
        self.clock = clock or SystemClock()
        self.options = options or RunOptions()
        self.owner = new_run_owner()
        self._leases = LeaseWatch(
            lease_seconds=self.options.run_lease_seconds, monotonic=self.clock.monotonic
        )
        self._live_owners: tuple[str, ...] = (self.owner,)
        self._run_lease_held = False
        self._alone_once = False
        self._session = session_factory(engine)
        self._bucket = TokenBucket(config.caps.calls_per_second, clock=self.clock)
        self._on_progress = on_progress
        self._progress = RunProgress(campaign=config.name)
        self._campaign_id = 0
        self._sending = 0
        self._creating = 0
        self._sent: list[tuple[int, str]] = []
        # Claimed attempts whose send was cancelled before its request left.
        self._cancelled_sends: list[int] = []
        self._ready: deque[tuple[CallAttempt, Contact]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sync = ResultSync(
            config=config,
            engine=engine,
            client=client,
            clock=self.clock,
            stuck_call_after=self.options.stuck_call_after,
            on_applied=self._on_applied,
        )
        self._reconciler = Reconciler(
            config=config,
            engine=engine,
            client=client,
            clock=self.clock,
            sync=self._sync,
            resend=self._resend,
            on_adopted=self._count_adopted,
            settle_lost=self._settle_lost,
        )
        self._capacity = CapacityGauge(
            client=client,
            clock=self.clock,
            refresh_every=self.options.concurrency_refresh,
            max_concurrency=config.caps.max_concurrency,
            # Creates on the wire and lost creates may be calls Retell is counting: ours, not
            # other traffic (else each would cost a slot until the next read).
            count_ours=lambda: (
                self._sync.in_progress() + self._creating + len(self._reconciler.ambiguous)
            ),
        )
        # `mode: batch`: due contacts go to Retell as batch calls instead of one create each.
        self._batches = (
            BatchDialer(
                config=config,
                engine=engine,
                client=client,
                clock=self.clock,
                sync=self._sync,
                lease_owner=self.owner,
                lease_seconds=self.options.lease_seconds,
                release_over_cap=self._release_over_cap,
                pause=self._pause,
                options=self.options.batch,
            )
            if config.mode == "batch"
            else None
        )
        self._wake = asyncio.Event()
        self._from_numbers = itertools.cycle(config.from_numbers)
        self._recent_outcomes: deque[tuple[OutcomeClass, str | None]] = deque(
            maxlen=self.options.dial_failed_window
        )
        self._cost_cents = 0.0
        self._stop_reason = ""
        self._status: CampaignStatus | None = None
        self._next_claim_at = float("-inf")
        self._no_slot_since: float | None = None
        self._zone_sets_cache: list[tuple[str, ...]] = []
        self._zone_sets_read_at = float("-inf")
        self._status_read_at = float("-inf")
        self._counts_read_at = float("-inf")
        self._counts_every = self.options.status_refresh
        self._run_lease_at = self._lease_reading_at = float("-inf")
        self._applied_at = float("-inf")
        self._apply_now = False
        self._apply_interval = (
            self.options.apply_interval
            if self._batches is None
            else self.options.batch.apply_interval
        )
        self._webhooks = webhooks
        if webhooks is not None:
            webhooks.notify = self._on_webhook
        # With webhooks pushing results, polling is only the safety net.
        self._poll_interval = (
            self.options.poll_interval if webhooks is None else self.options.webhook_poll_interval
        )

    @property
    def progress(self) -> RunProgress:
        """The run's live counters (what `on_progress` receives)."""
        return self._progress

    # -- the run -------------------------------------------------------------------------------

    async def run(self) -> RunSummary:
        """Dial until nothing is left to do now (or the campaign is paused, cancelled, or out of
        time), and return the summary."""
        with transaction(self.engine) as session:
            campaign = campaigns.upsert(session=session, config=self.config)
        with self._session() as session:
            assert campaign.id is not None
            self._campaign_id = campaign.id
            self._cost_cents = campaigns.counts(session=session, campaign_id=campaign.id)[
                "cost_cents"
            ]
        # Calls a previous run left in progress are ours before Retell's concurrency is read, so
        # they count as ours and not as other traffic. The first read is not forgiven: a wrong
        # key or an unreachable Retell must stop the run with its reason, not leave it idling.
        self._reconciler.follow_unfinished(self._campaign_id)
        if self._batches is not None:
            self._batches.start(self._campaign_id)
        try:
            # Known to the other runs first, so the concurrency read can tell their calls apart;
            # then the attempts of runs that are gone are ours to resolve.
            self._hold_run_lease(force=True)
            self._take_over_attempts()
            await self._capacity.refresh(force=True, required=True)
            self._hold_run_lease(force=True)
            if self._sync.live or self._batches is not None:
                await self._sync_results()
            await self._loop()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._write_sent()
            self._withdraw_ready()
            self._withdraw_cancelled()
            with transaction(self.engine) as session:
                run_leases.drop(session=session, owner=self.owner)
        return self._summary()

    async def _loop(self) -> None:
        last_sync = self.clock.monotonic()
        last_reconcile = float("-inf")
        idle_reconcile_rounds = 0
        while True:
            # Cleared before the turn's work, so a wake-up that lands during it is not lost.
            self._wake.clear()
            if self._webhooks is not None:
                self._sync.take_pushed(self._webhooks)
            # The lease and the status first (each a store read only when due): refills must not
            # outlive the run's share of the slots, nor a pause.
            self._hold_run_lease()
            now = self.clock.monotonic()
            must_apply = self._apply_due(now) or self._apply_now or self._only_analyses_awaited()
            if not must_apply and self._refill_freed_slots():
                # The creates go out before the turn's other store work: the next turn does it
                # (each sender wakes the loop when Retell answers).
                await self._next_turn()
                continue
            # Call ids are written with the results, in the same rhythm: before them, so each
            # result finds its attempt by call id.
            if must_apply:
                self._apply_now = False
                self._write_sent()
                self._sync.apply_pushed()
                self._applied_at = now
            if (
                self._sync.live or self._batches is not None
            ) and now - last_sync >= self._poll_interval:
                self._write_sent()
                await self._sync_results()
                last_sync = now
            # After the results: a breaker or the budget they tripped stops dialing this turn.
            status = self._campaign_status()
            dialing = status is CampaignStatus.ACTIVE and not self._past_deadline()
            if not dialing:
                self._withdraw_ready()
            claimed = await self._dial_due() if dialing else 0
            if now - last_reconcile >= self.options.reconcile_interval:
                last_reconcile = now
                # What runs that are gone left without a call becomes this run's to resolve,
                # within the lease time of their going, whatever this run is doing.
                self._take_over_attempts()
                if self._unresolved():
                    was_idle = not (self._busy() or claimed)
                    await self._reconciler.reconcile(owner=self.owner, replay=dialing)
                    if self._batches is not None:
                        await self._batches.reconcile()
                    idle_reconcile_rounds = idle_reconcile_rounds + 1 if was_idle else 0
            unresolved = self._unresolved()
            # Reconciling may have adopted calls in progress: judge idleness after it. A run
            # whose liveness is not known yet and holds attempts without a call is watched for
            # a lease time first: if it is gone, they are this run's to take over.
            waiting = (
                (dialing and self._capacity.short_of_part)
                or self._watching_holders()
                or (dialing and self._waiting_for_other_traffic())
            )
            idle = not (self._busy() or claimed or waiting)
            self._report_progress()
            if idle and not unresolved:
                self._stop_reason = self._stop_reason or self._idle_reason(status)
                return
            if idle and idle_reconcile_rounds >= self.options.max_reconcile_rounds:
                what = "batches and attempts" if self._batches else "attempts"
                self._stop_reason = (
                    f"{unresolved} {what} could not be reconciled yet; the next run tries again"
                )
                return
            await self._next_turn()

    async def _next_turn(self) -> None:
        """Wait until something wakes the loop, or the next turn is due anyway."""
        # Not asyncio.wait_for: on 3.11 it can swallow a cancel that lands as the event fires.
        with suppress(TimeoutError):
            async with asyncio.timeout(self._next_turn_within()):
                await self._wake.wait()

    def _unresolved(self) -> int:
        batches = len(self._batches.ambiguous) if self._batches is not None else 0
        return len(self._reconciler.ambiguous) + batches

    def _take_over_attempts(self) -> None:
        """Own the attempts without a call of the campaign's runs that are gone; once no other
        run is live, also what only a lone run may take over (analyses still awaited, batches
        in doubt)."""
        self._reconciler.take_over(
            self._campaign_id, owner=self.owner, live_owners=self._live_owners
        )
        if not self._alone_once and self._live_owners == (self.owner,):
            self._alone_once = True
            self._reconciler.take_over_analyses(self._campaign_id)
            if self._batches is not None:
                self._batches.take_over()

    def _watching_holders(self) -> bool:
        """Another run whose liveness is not decided yet holds attempts without a call."""
        undecided = self._leases.undecided()
        if not undecided:
            return False
        with self._session() as session:
            holders = attempts.owners_without_call(session=session, campaign_id=self._campaign_id)
        return bool(holders & undecided)

    def _waiting_for_other_traffic(self) -> bool:
        """Other traffic holds every slot the campaign could have while contacts are due: wait
        for a slot up to `capacity_wait` seconds, then stop with the reason."""
        if self._batches is not None or self._capacity.campaign_slots() > 0:
            self._no_slot_since = None
            return False
        if not self._count_due(at_most=1):
            self._no_slot_since = None
            return False
        now = self.clock.monotonic()
        reading = self._capacity.reading
        if self._no_slot_since is None:
            self._no_slot_since = now
            log.warning(
                "campaign %s: contacts are due but other traffic holds the workspace's "
                "concurrency (%d of %d outbound calls); waiting up to %.0f s for a slot",
                self.config.name,
                reading.other_traffic,
                reading.outbound,
                self.options.capacity_wait,
            )
        if now - self._no_slot_since < self.options.capacity_wait:
            return True
        self._stop_reason = (
            f"{self._count_due()} contacts are due, but the workspace's concurrency is used by "
            f"other traffic ({reading.other_traffic} of {reading.outbound} outbound calls) "
            f"for {self.options.capacity_wait:.0f} s; run again later"
        )
        return False

    def _count_due(self, *, at_most: int | None = None) -> int:
        """How many of the campaign's contacts are due now, in zones whose window is open."""
        now = self.clock.now()
        with self._session() as session:
            return claims.count_due(
                session=session,
                campaign_id=self._campaign_id,
                now=now,
                timezones=self._open_zone_sets(session, now),
                at_most=at_most,
            )

    def _on_webhook(self, call: Call) -> None:
        """Wake the loop for a delivery it must act on now: a call's end (its slot is free),
        and any result once only analyses are awaited or in batch mode. The other results (an
        analysis arriving mid-run) wait for the next turn's batch, except those the breakers
        and the budget act on, which are applied at once."""
        if self._trips_a_breaker(call):
            self._apply_now = True
        batch_mode = self._batches is not None
        if (
            batch_mode
            or self._apply_now
            or self._only_analyses_awaited()
            or self._sync.frees_slot(call)
        ):
            self._wake.set()

    def _trips_a_breaker(self, call: Call) -> bool:
        """A call's end the circuit breaker counts (a failed dial, an account error), or any
        end when the campaign has a budget: applied at once, so no more calls go out in the
        meantime than when every result was applied as it came."""
        if not call.is_terminal:
            return False
        reason = call.disconnection_reason
        return (
            self.config.budget_cents is not None
            or reason == "dial_failed"
            or (reason is not None and REASON_OUTCOMES.get(reason) is OutcomeClass.ACCOUNT_ERROR)
        )

    def _apply_due(self, now: float) -> bool:
        return now - self._applied_at >= self._apply_interval

    def _only_analyses_awaited(self) -> bool:
        """Direct mode with no call of ours up: nothing is gained by batching the writes any
        longer, and the run ends sooner if the last analyses are applied as they come."""
        return self._batches is None and not self._sync.in_progress()

    def _busy(self) -> bool:
        """Calls in progress or waiting to be applied, creates being sent, or batches Retell may
        be dialing now."""
        batches_dialing = self._batches is not None and self._batches.dialing(self.clock.now())
        return bool(
            self._sync.live or self._sync.pushed or self._sending or self._tasks or batches_dialing
        )

    def _next_turn_within(self) -> float:
        """Seconds until the loop must run again even if nothing wakes it."""
        if self._sync.pushed:
            until_apply = self._applied_at + self._apply_interval - self.clock.monotonic()
            return max(0.0, min(until_apply, self.options.poll_interval))
        return self.options.poll_interval

    def _idle_reason(self, status: CampaignStatus | None) -> str:
        if status is not CampaignStatus.ACTIVE:
            return f"campaign is {status.value if status else 'missing'}"
        if self._past_deadline():
            return "deadline reached"
        waiting = self._batches.waiting() if self._batches else 0
        if waiting:
            return (
                f"nothing is due now; {waiting} batches wait at Retell for their calling window "
                "(run again later to collect their results)"
            )
        return "nothing is due now"

    def _past_deadline(self) -> bool:
        deadline = self.options.deadline
        return deadline is not None and self.clock.now() >= deadline

    # -- dialing -------------------------------------------------------------------------------

    async def _dial_due(self) -> int:
        """Send due contacts: as batches in batch mode, else one create each."""
        if self._batches is not None:
            return await self._batches.submit_due()
        return await self._dial_due_contacts()

    def _refill_freed_slots(self) -> int:
        """Send attempts written ahead into slots freed since the last turn (a call's end frees
        its slot as soon as its webhook is taken). The status is re-read when due, and at once
        after this run paused the campaign: a pause stops the refills too."""
        if self._campaign_status() is not CampaignStatus.ACTIVE or self._past_deadline():
            return 0
        return self._send_ready(self._free_slots())

    def _free_slots(self) -> int:
        capacity = self._capacity.held
        self._progress.slots = max(0, capacity)
        # A create whose answer was lost may well be a call in progress: count it until known.
        return capacity - self._sync.in_progress() - self._sending - len(self._reconciler.ambiguous)

    async def _dial_due_contacts(self) -> int:
        """Fill free slots from the attempts written ahead, then claim and write more: enough for
        the slots still free plus `ready_attempts` ahead (at most as many as the run's slots).
        Returns how many were started or claimed."""
        await self._capacity.refresh()
        self._hold_run_lease()
        free = self._free_slots()
        started = self._send_ready(free)
        free -= started
        ahead = min(self.options.ready_attempts, self._capacity.held)
        wanted = max(free, 0) + ahead - len(self._ready)
        topped_up = free <= 0 and len(self._ready) > ahead // 2
        now_mono = self.clock.monotonic()
        if topped_up or now_mono < self._next_claim_at or self._capacity.held <= 0:
            return started
        now = self.clock.now()
        # Three units of work, as the dial path needs them durable: the leases, the leases given
        # back over a cap, then every attempt row, committed before any request goes out.
        with transaction(self.engine) as session:
            open_sets = self._open_zone_sets(session, now)
            contacts = (
                claims.claim_due(
                    session=session,
                    campaign_id=self._campaign_id,
                    now=now,
                    limit=wanted,
                    lease_owner=self.owner,
                    lease_seconds=self.options.lease_seconds,
                    timezones=open_sets,
                )
                if open_sets
                else []
            )
        contacts = self._release_over_cap(contacts, now)
        with transaction(self.engine) as session:
            written = (
                attempts.create(
                    session=session,
                    plans=[self._plan(contact) for contact in contacts],
                    lease_owner=self.owner,
                    now=now,
                )
                if contacts
                else []
            )
        if len(contacts) < wanted:
            # Fewer were due than there was room for: more become due only as time passes.
            self._next_claim_at = now_mono + self.options.idle_claim_interval
        by_id = {contact.id: contact for contact in contacts}
        self._ready.extend((attempt, by_id[attempt.contact_id]) for attempt in written)
        return started + self._send_ready(free) + len(contacts)

    def _send_ready(self, free: int) -> int:
        """Start up to `free` of the attempts written ahead; give back those whose window closed."""
        now = self.clock.now()
        chosen: list[tuple[CallAttempt, Contact]] = []
        closed: list[tuple[CallAttempt, Contact]] = []
        while len(chosen) < free and self._ready:
            attempt, contact = self._ready.popleft()
            if is_callable_at(self.config.window, contact.timezones, now):
                chosen.append((attempt, contact))
            else:
                closed.append((attempt, contact))
        self._withdraw(closed)
        if not chosen:
            return 0
        # The right to send them, taken in the store for all of them at once: an attempt
        # another run took over meanwhile (this run lost its lease) is not sent.
        # Committed before any of the requests: the claim is what makes a second send impossible.
        with transaction(self.engine) as session:
            claimed = attempts.claim_first_sends(
                session=session,
                attempt_ids=[attempt.id for attempt, _ in chosen if attempt.id is not None],
                owner=self.owner,
                retell_time=self.client.server_clock.at_least(),
            )
        claimed_at = self.clock.monotonic()
        for attempt, contact in chosen:
            if attempt.id in claimed:
                self._sending += 1
                self._spawn(self._dial(attempt, contact, claimed_at))
        return len(claimed)

    def _withdraw_ready(self) -> None:
        """The campaign stopped dialing or the run ends: give back every attempt written ahead."""
        ready, self._ready = list(self._ready), deque()
        self._withdraw(ready)

    def _withdraw(self, ready: list[tuple[CallAttempt, Contact]]) -> None:
        """Attempts written ahead that will not be sent now: their contacts are due again."""
        ids = [attempt.id for attempt, _ in ready if attempt.id is not None]
        if ids:
            with transaction(self.engine) as session:
                attempts.withdraw_unsent(
                    session=session, attempt_ids=ids, owner=self.owner, now=self.clock.now()
                )

    def _withdraw_cancelled(self) -> None:
        """Sends cancelled while they waited for the rate limiter (the run ends): claimed but
        never sent; their contacts are due again."""
        ids, self._cancelled_sends = self._cancelled_sends, []
        if ids:
            with transaction(self.engine) as session:
                attempts.withdraw_unsent(
                    session=session,
                    attempt_ids=ids,
                    owner=self.owner,
                    claimed=True,
                    now=self.clock.now(),
                )

    def _hold_run_lease(self, *, force: bool = False) -> None:
        """Renew this run's lease every `run_lease_renew` s, holding its part of the slots."""
        now = self.clock.monotonic()
        due = now - self._run_lease_at >= self.options.run_lease_renew
        fresh_reading = self._capacity.reading.read_at != self._lease_reading_at
        if not (force or due or fresh_reading):
            return
        self._run_lease_at = now
        self._lease_reading_at = self._capacity.reading.read_at
        ours = self._sync.in_progress() + self._sending + len(self._reconciler.ambiguous)
        had_lease = self._run_lease_held
        with transaction(self.engine) as session:
            share = run_leases.hold(
                session=session,
                owner=self.owner,
                campaign_id=self._campaign_id,
                campaign_slots=self._capacity.campaign_slots(),
                calls_in_progress=ours,
                seconds=self.options.run_lease_seconds,
                # Runs whose beat stood still for a lease time, or whose process is gone.
                stale=self._leases.stale(),
                now=self.clock.now(),
            )
        self._run_lease_held = True
        self._leases.observe(share.beats)
        self._live_owners = (self.owner, *share.others)
        self._capacity.hold(share)
        if had_lease and not share.renewed:
            self._lost_lease()

    def _lost_lease(self) -> None:
        """Another run dropped this run's lease (it was paused or hung past its lease time) and
        may have taken over its attempts: the run goes on as a new run, under a new name, and
        sends nothing it owned under the old one until it has taken that over again."""
        log.warning(
            "run %s of campaign %s lost its lease (paused or too slow to renew); "
            "going on as a new run",
            self.owner,
            self.config.name,
        )
        old = self.owner
        self.owner = new_run_owner()
        self._ready.clear()
        self._reconciler.forget_all()
        self._live_owners = (self.owner,)
        self._run_lease_held = False
        with transaction(self.engine) as session:
            run_leases.drop(session=session, owner=old)
        self._hold_run_lease(force=True)

    def _write_sent(self) -> None:
        """Record the call ids of the creates Retell answered since the last turn."""
        if self._sent:
            sent, self._sent = self._sent, []
            with transaction(self.engine) as session:
                attempts.mark_sent(session=session, sent=sent, sent_at=self.clock.now())

    def _open_zone_sets(self, session: Session, now: datetime) -> list[tuple[str, ...]]:
        """The campaign's candidate-zone sets whose calling window is open at `now` (the sets
        are re-read every `zone_sets_refresh` s)."""
        read_at = self.clock.monotonic()
        if read_at - self._zone_sets_read_at >= self.options.zone_sets_refresh:
            self._zone_sets_cache = claims.zone_sets(session=session, campaign_id=self._campaign_id)
            self._zone_sets_read_at = read_at
        return [
            zones
            for zones in self._zone_sets_cache
            if is_callable_at(self.config.window, zones, now)
        ]

    def _release_over_cap(self, contacts: list[Contact], now: datetime) -> list[Contact]:
        """Give back contacts whose number had its day's share of calls (across campaigns)."""
        if not contacts:
            return contacts
        cap = self.config.caps.max_calls_per_number_per_24h
        with transaction(self.engine) as session:
            recent = attempts.calls_to_number_since(
                session=session,
                numbers=[contact.phone_e164 for contact in contacts],
                since=now - timedelta(hours=24),
            )
            over = [contact for contact in contacts if recent.get(contact.phone_e164, 0) >= cap]
            if over:
                claims.release(
                    session=session,
                    contact_ids=[contact.id for contact in over if contact.id is not None],
                    lease_owner=self.owner,
                    next_attempt_at=now + timedelta(hours=1),
                    now=now,
                )
        return [contact for contact in contacts if contact not in over]

    def _plan(self, contact: Contact) -> AttemptPlan:
        variant = variant_for(self.config, contact.variant)
        return AttemptPlan(
            contact=contact,
            agent_id=variant.agent_id,
            agent_version=variant.version if isinstance(variant.version, int) else None,
            from_number=next(self._from_numbers),
            variant=variant.name,
        )

    async def _dial(self, attempt: CallAttempt, contact: Contact, claimed_at: float) -> None:
        """Send a claimed attempt's create request when the token bucket allows. A wait longer
        than `SEND_RECHECK_AFTER` since the claim (the process may have been paused past its
        lease) needs the store's right once more, as a resend does: a run that lost its lease
        meanwhile sends nothing it no longer owns."""
        assert attempt.id is not None
        handed_over = False
        try:
            await self._bucket.acquire()
            handed_over = True
            waited = self.clock.monotonic() - claimed_at
            if waited > SEND_RECHECK_AFTER and not self._reconciler.claim_resend(
                attempt.id, owner=self.owner
            ):
                # Not provably this run's and safe to send now: resolved like any attempt in
                # doubt (looked up, resent only while Retell remembers its key).
                self._reconciler.ambiguous.add(attempt.id)
                return
            await self._send_create(attempt, contact)
        finally:
            # The loop is woken when the task is done (`_task_done`), not twice per create.
            self._sending -= 1
            if not handed_over:
                # Cancelled while it waited for the rate limiter: claimed but never sent.
                self._cancelled_sends.append(attempt.id)

    async def _send_create(self, attempt: CallAttempt, contact: Contact) -> None:
        """Send (or re-send, same key) an attempt's create request and record the answer."""
        assert attempt.id is not None
        assert contact.id is not None
        attempt_id = attempt.id
        # The attempt row keeps numeric versions only; a tag such as "latest" comes from the file.
        variant = variant_for(self.config, attempt.variant)
        metadata = call_metadata(self.config, contact, attempt)
        for _ in range(self.options.max_create_retries):
            try:
                call = await self._create_call(attempt, contact, variant, metadata)
            except RateLimited as error:
                # Retell refused without doing anything; the next try is a resend of the
                # attempt, which needs the store's right again (the waits below may outlast
                # this run's lease, or Retell's memory of the key).
                self._bucket.throttled(error.retry_after)
                await self._capacity.refresh(force=True)
                await self._bucket.acquire()
                if not self._reconciler.claim_resend(attempt_id, owner=self.owner):
                    self._reconciler.ambiguous.add(attempt_id)
                    return
                continue
            except (AmbiguousCreate, ResponseFormatError) as error:
                # A 2xx answer that does not parse still means Retell placed the call.
                self._record_send_failure(attempt_id, ambiguous=True, detail=str(error))
                self._reconciler.ambiguous.add(attempt_id)
                return
            except RetellError as error:
                self._handle_refused_create(attempt_id, contact, error)
                return
            self._bucket.succeeded()
            # Written with the next turn's batch: until then a crash leaves an attempt without a
            # call id, which the next run finds by its metadata like any lost answer.
            self._sent.append((attempt_id, call.call_id))
            self._reconciler.ambiguous.discard(attempt_id)
            self._sync.follow(call.call_id, attempt_id=attempt_id, contact_id=contact.id)
            self._progress.calls_placed += 1
            return
        self._settle_unsent(
            attempt_id, contact.id, OutcomeClass.CAPACITY, "rate limited on every try"
        )

    async def _create_call(
        self,
        attempt: CallAttempt,
        contact: Contact,
        variant: AgentVariant,
        metadata: dict[str, Any],
    ) -> Call:
        """One create request, counted as on the wire while it is."""
        self._creating += 1
        try:
            return await self.client.create_phone_call(
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
            self._creating -= 1

    def _handle_refused_create(self, attempt_id: int, contact: Contact, error: RetellError) -> None:
        """Retell refused a create, so no call exists: decide what that means."""
        assert contact.id is not None
        detail = str(error)
        if isinstance(error, ACCOUNT_ERRORS + CONFIG_ERRORS):
            what = "the account" if isinstance(error, ACCOUNT_ERRORS) else "the agent or number"
            self._pause(f"Retell refused {what}: {detail}")
            self._settle_unsent(
                attempt_id, contact.id, OutcomeClass.ACCOUNT_ERROR, detail, blameless=True
            )
        elif isinstance(error, BadRequest):
            self._settle_unsent(attempt_id, contact.id, refused_call_outcome(error), detail)
        else:
            self._settle_unsent(
                attempt_id, contact.id, OutcomeClass.TRANSIENT_FAILURE, detail, blameless=True
            )

    def _settle_unsent(
        self,
        attempt_id: int,
        contact_id: int,
        outcome: OutcomeClass,
        detail: str,
        *,
        blameless: bool = False,
    ) -> None:
        """An attempt that placed no call: record why and put the contact where it belongs.

        `blameless`: the failure says nothing about the contact (the account, the network), so the
        attempt does not count and the contact is due again as soon as dialing goes on.
        """
        self._record_send_failure(attempt_id, ambiguous=False, detail=detail, outcome=outcome)
        with transaction(self.engine) as session:
            settled = settle_attempts(
                session,
                config=self.config,
                attempts={attempt_id: (contact_id, outcome)},
                now=self.clock.now(),
                blameless=blameless,
            )
        if settled and not blameless:
            self._note_outcome(outcome, None)

    def _record_send_failure(
        self,
        attempt_id: int,
        *,
        ambiguous: bool,
        detail: str,
        outcome: OutcomeClass | None = None,
    ) -> None:
        with transaction(self.engine) as session:
            attempts.mark_send_failed(
                session=session,
                attempt_id=attempt_id,
                ambiguous=ambiguous,
                detail=detail,
                outcome_class=outcome,
            )

    # -- results -------------------------------------------------------------------------------

    async def _sync_results(self) -> None:
        """Poll the calls this run follows, and collect the finished calls of open batches."""
        if self._sync.live:
            await self._sync.poll()
        if self._batches is not None:
            await self._batches.collect()

    def _on_applied(self, batch: AppliedBatch) -> None:
        """Count what a sync batch settled, and let it trip the breaker or the budget."""
        self._progress.calls_finished += batch.finished
        self._cost_cents += batch.cost_cents
        for outcome, reason in batch.settled:
            self._note_outcome(outcome, reason)
        if batch.want_transcripts:
            self._spawn(self._sync.fetch_transcripts(batch.want_transcripts))
        if self._batches is not None and batch.settled:
            self._batches.results_applied()
        self._check_budget()
        self._wake.set()

    def _note_outcome(self, outcome: OutcomeClass, reason: str | None) -> None:
        """Trip the circuit breaker on account errors and on a spike of failed dials."""
        if outcome is OutcomeClass.ACCOUNT_ERROR:
            self._pause(f"a call ended with an account error ({reason or 'refused'})")
            return
        self._recent_outcomes.append((outcome, reason))
        failed = sum(1 for _, why in self._recent_outcomes if why == "dial_failed")
        if failed >= self.options.dial_failed_trip:
            self._pause(
                f"{failed} of the last {len(self._recent_outcomes)} calls failed to dial "
                "(dial_failed): the caller ID may be flagged as spam"
            )
            self._recent_outcomes.clear()

    def _check_budget(self) -> None:
        budget = self.config.budget_cents
        if budget is not None and self._cost_cents >= budget:
            self._pause(f"budget reached: {self._cost_cents:.0f} of {budget} cents spent")

    # -- crash recovery ------------------------------------------------------------------------

    async def _resend(self, attempt: CallAttempt, contact: Contact) -> None:
        """Re-send an attempt in doubt with its own key, paced like any create: after the rate
        limiter's wait, looked up once more and claimed in the store right before it goes."""
        assert attempt.id is not None
        self._sending += 1
        try:
            await self._bucket.acquire()
            if await self._reconciler.lookup(attempt.id) is not False:
                return
            if self._reconciler.claim_resend(attempt.id, owner=self.owner):
                await self._send_create(attempt, contact)
        finally:
            self._sending -= 1

    def _settle_lost(self, attempt_id: int, contact_id: int, detail: str) -> None:
        """A create in doubt that placed no call: not the contact's doing, so not counted."""
        self._settle_unsent(
            attempt_id, contact_id, OutcomeClass.TRANSIENT_FAILURE, detail, blameless=True
        )

    def _count_adopted(self) -> None:
        self._progress.calls_placed += 1

    # -- status, plumbing ------------------------------------------------------------------------

    def _campaign_status(self) -> CampaignStatus | None:
        """The campaign's status in the store, re-read at most every `status_refresh` seconds, so
        a pause or cancel from another process lands within that time."""
        now = self.clock.monotonic()
        if now - self._status_read_at >= self.options.status_refresh:
            with self._session() as session:
                self._status = campaigns.status(session=session, campaign_id=self._campaign_id)
                if (
                    self._on_progress is not None
                    and now - self._counts_read_at >= self._counts_every
                ):
                    self._progress.counts = self._count(session)
                    self._counts_read_at = now
            self._status_read_at = now
        return self._status

    def _count(self, session: Session) -> CampaignCounts:
        """The campaign's counts for progress; sets when they may be counted again."""
        started = self.clock.monotonic()
        counts = campaigns.counts(session=session, campaign_id=self._campaign_id)
        took = self.clock.monotonic() - started
        self._counts_every = max(
            self.options.status_refresh, self.options.counts_cost_factor * took
        )
        return counts

    def _pause(self, reason: str) -> None:
        log.warning("pausing campaign %s: %s", self.config.name, reason)
        self._status_read_at = float("-inf")
        try:
            with transaction(self.engine) as session:
                campaigns.set_status(
                    session=session,
                    name=self.config.name,
                    status=CampaignStatus.PAUSED,
                    reason=reason,
                )
        except StatusChangeError:
            # A cancelled campaign stays cancelled, which stops dialing all the same.
            pass
        self._stop_reason = reason

    def _report_progress(self) -> None:
        self._progress.in_progress = self._sync.in_progress() + self._sending
        if self._batches is not None:
            # Batch mode: the tasks Retell accepted (it places their calls itself).
            self._progress.calls_placed = self._batches.tasks_submitted
        if self._on_progress is not None:
            self._on_progress(self._progress)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dial task failed", exc_info=task.exception())
        self._wake.set()

    def _summary(self) -> RunSummary:
        now = self.clock.now()
        with self._session() as session:
            counts = campaigns.counts(session=session, campaign_id=self._campaign_id)
            status = campaigns.status(session=session, campaign_id=self._campaign_id)
            zone_sets = claims.zone_sets(session=session, campaign_id=self._campaign_id)
            next_due = claims.next_due_time(session=session, campaign_id=self._campaign_id)
        earliest = max(now, next_due) if next_due else now
        return RunSummary(
            campaign=self.config.name,
            status=status.value if status else "missing",
            stop_reason=self._stop_reason,
            calls_placed=self._progress.calls_placed,
            calls_finished=self._progress.calls_finished,
            counts=counts,
            next_callable_at=earliest_callable_at(self.config.window, zone_sets, earliest),
        )
