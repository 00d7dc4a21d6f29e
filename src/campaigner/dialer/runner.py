"""Running a campaign: the run's lifecycle, from its start to its stop reason and summary.

One `CampaignRunner` drives one campaign until it has nothing left to do now. Its parts, each
with one job:

- the **slot ledger** (`slots.py`): the run's lease and slots, and the one definition of the
  calls that are the run's; Retell's concurrency read through `capacity.py`;
- a **dialer** for the campaign's mode (`dialing.py`: `DirectDialer` in `direct.py`, one
  create per contact through the `CreateSender` of `creates.py`; `BatchDialer` in
  `batching.py`);
- **result sync** (`sync.py`): calls polled, or pushed by webhooks, and applied;
- the **reconciler** (`reconcile.py`): attempts in doubt and what runs that are gone left;
- the **breakers** (`breakers.py`): budget, failure spikes and account errors, as pause reasons.

The loop here: catch up (calls a previous run left, attempts of runs that are gone), then each
turn refill freed slots, apply and poll results, read the campaign's status (pause, resume and
cancel are statuses in the store, so they reach a run in another process within a second),
dial, reconcile, and stop once nothing is left to do now, saying why. Everything per call is
asyncio; nothing here imports Prefect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from campaigner.campaign import CampaignConfig
from campaigner.dialer.batching import BatchDialer
from campaigner.dialer.breakers import Breakers
from campaigner.dialer.clock import Clock, SystemClock
from campaigner.dialer.creates import CreateSender
from campaigner.dialer.dialing import Dialer
from campaigner.dialer.direct import DirectDialer
from campaigner.dialer.groups import next_callable_time
from campaigner.dialer.options import RunOptions
from campaigner.dialer.reconcile import Reconciler
from campaigner.dialer.slots import SlotLedger
from campaigner.dialer.sync import AppliedResults, ResultSync
from campaigner.dialer.webhook_inbox import WebhookInbox
from campaigner.retell import Call, RetellClient
from campaigner.store import (
    CampaignCounts,
    CampaignStatus,
    Engine,
    Session,
    StatusChangeError,
    campaigns,
    session_factory,
    transaction,
)

__all__ = ["CampaignRunner", "RunOptions", "RunProgress", "RunSummary"]

log = logging.getLogger(__name__)


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
    """Drives one campaign; see the module docstring."""

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
        self.clock = clock or SystemClock()
        self.options = options or RunOptions()
        self._session = session_factory(engine)
        self._on_progress = on_progress
        self._progress = RunProgress(campaign=config.name)
        self._campaign_id = 0
        self._wake = asyncio.Event()
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
            config=config, engine=engine, client=client, clock=self.clock, sync=self._sync
        )
        self._ledger = SlotLedger(
            engine=engine,
            client=client,
            clock=self.clock,
            config=config,
            concurrency_refresh=self.options.concurrency_refresh,
            followed=self._sync.in_progress,
            in_doubt=self._reconciler.in_doubt,
            lease_seconds=self.options.run_lease_seconds,
            renew_every=self.options.run_lease_renew,
        )
        self._breakers = Breakers(
            budget_cents=config.budget_cents,
            spent_cents=0.0,
            dial_failed_window=self.options.dial_failed_window,
            dial_failed_trip=self.options.dial_failed_trip,
        )
        self._sender = CreateSender(
            config=config,
            engine=engine,
            client=client,
            clock=self.clock,
            ledger=self._ledger,
            reconciler=self._reconciler,
            sync=self._sync,
            breakers=self._breakers,
            max_retries=self.options.max_create_retries,
        )
        self._dialer: Dialer = (
            BatchDialer(
                config=config,
                engine=engine,
                client=client,
                clock=self.clock,
                sync=self._sync,
                lease_owner=self._ledger.owner,
                lease_seconds=self.options.lease_seconds,
                breakers=self._breakers,
                options=self.options.batch,
            )
            if config.mode == "batch"
            else DirectDialer(
                config=config,
                engine=engine,
                client=client,
                clock=self.clock,
                options=self.options,
                ledger=self._ledger,
                sender=self._sender,
                wake=self._wake,
            )
        )
        self._alone_once = False
        self._stop_reason = ""
        self._status: CampaignStatus | None = None
        self._status_read_at = float("-inf")
        self._counts_read_at = float("-inf")
        self._counts_every = self.options.status_refresh
        self._applied_at = float("-inf")
        self._apply_now = False
        self._webhooks = webhooks
        if webhooks is not None:
            webhooks.notify = self._on_webhook

    @property
    def owner(self) -> str:
        """The run's name in the store (a run that lost its lease goes on under a new one)."""
        return self._ledger.owner

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
            self._breakers.spent_cents = campaigns.counts(session=session, campaign_id=campaign.id)[
                "cost_cents"
            ]
        # Calls a previous run left in progress are ours before Retell's concurrency is read, so
        # they count as ours and not as other traffic. The first read is not forgiven: a wrong
        # key or an unreachable Retell must stop the run with its reason, not leave it idling.
        self._reconciler.follow_unfinished(self._campaign_id)
        self._ledger.start(self._campaign_id)
        self._dialer.start(self._campaign_id)
        try:
            # Known to the other runs first, so the concurrency read can tell their calls apart;
            # then the attempts of runs that are gone are ours to resolve.
            self._hold_lease(force=True)
            self._take_over_attempts()
            await self._ledger.capacity.refresh(force=True, required=True)
            self._hold_lease(force=True)
            await self._sync_results()
            await self._loop()
        finally:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._dialer.close()
            self._pause_if_tripped()
            self._ledger.release()
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
            self._hold_lease()
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
                self._dialer.record_sent()
                self._sync.apply_pushed()
                self._applied_at = now
            if now - last_sync >= self._poll_every():
                self._dialer.record_sent()
                await self._sync_results()
                last_sync = now
            # After the results: a breaker or the budget they tripped stops dialing this turn.
            status = self._campaign_status()
            dialing = status is CampaignStatus.ACTIVE and not self._past_deadline()
            if not dialing:
                self._dialer.stop_dialing()
            claimed = await self._dial_due() if dialing else 0
            if now - last_reconcile >= self.options.reconcile_interval:
                last_reconcile = now
                # What runs that are gone left without a call becomes this run's to resolve,
                # within the lease time of their going, whatever this run is doing.
                self._take_over_attempts()
                if self._unresolved():
                    was_idle = not (self._busy() or claimed)
                    await self._reconcile(replay=dialing)
                    idle_reconcile_rounds = idle_reconcile_rounds + 1 if was_idle else 0
            # What dialing and reconciling tripped is written before the run may stop.
            self._pause_if_tripped()
            unresolved = self._unresolved()
            # Reconciling may have adopted calls in progress: judge idleness after it. A run
            # whose liveness is not known yet and holds attempts without a call is watched for
            # a lease time first: if it is gone, they are this run's to take over.
            waiting = (
                (dialing and self._ledger.capacity.short_of_part)
                or self._ledger.watching_holders()
                or (dialing and self._dialer.waiting())
            )
            idle = not (self._busy() or claimed or waiting)
            self._report_progress()
            if idle and not unresolved:
                self._stop_reason = self._stop_reason or self._idle_reason(status)
                return
            if idle and idle_reconcile_rounds >= self.options.max_reconcile_rounds:
                what = "batches and attempts" if self._dialer.unresolved() else "attempts"
                self._stop_reason = (
                    f"{unresolved} {what} could not be reconciled yet; the next run tries again"
                )
                return
            await self._next_turn()

    def _poll_every(self) -> float:
        """Seconds between polls: with webhooks pushing results, polling is only the safety
        net, unless their signatures are being refused (a wrong webhook key)."""
        if self._webhooks is None or self._webhooks.refusing_signatures:
            return self.options.poll_interval
        return self.options.webhook_poll_interval

    async def _next_turn(self) -> None:
        """Wait until something wakes the loop, or the next turn is due anyway."""
        # Not asyncio.wait_for: on 3.11 it can swallow a cancel that lands as the event fires.
        with suppress(TimeoutError):
            async with asyncio.timeout(self._next_turn_within()):
                await self._wake.wait()

    async def _dial_due(self) -> int:
        """Dial what is due; a mode that fills the run's slots dials on a fresh reading of
        Retell's concurrency (every `concurrency_refresh` s) and the lease renewed on it."""
        if self._dialer.fills_slots:
            await self._ledger.capacity.refresh()
            self._hold_lease()
        return await self._dialer.dial_due()

    async def _reconcile(self, *, replay: bool) -> None:
        """Resolve the attempts in doubt (resending those Retell may not have, with their own
        key) and what the dialer holds in doubt."""
        resend = await self._reconciler.reconcile(owner=self.owner, replay=replay)
        for attempt, contact in resend:
            await self._sender.resend(attempt, contact)
        await self._dialer.reconcile()

    def _unresolved(self) -> int:
        return self._reconciler.in_doubt() + self._dialer.unresolved()

    def _hold_lease(self, *, force: bool = False) -> None:
        """Renew the run's lease when due; a run that lost it lets go of what it held."""
        if self._ledger.hold(backlog=self._dialer.backlog(), force=force):
            return
        log.warning("campaign %s: this run goes on under a new name", self.config.name)
        self._dialer.forget_owned()
        self._reconciler.forget_all()
        self._ledger.renew_owner(backlog=self._dialer.backlog())

    def _take_over_attempts(self) -> None:
        """Own the attempts without a call of the campaign's runs that are gone; once no other
        run is live, also what only a lone run may take over (analyses still awaited, batches
        in doubt)."""
        self._reconciler.take_over(
            self._campaign_id, owner=self.owner, live_owners=self._ledger.live_owners
        )
        if not self._alone_once and self._ledger.alone:
            self._alone_once = True
            self._reconciler.take_over_analyses(self._campaign_id)
            self._dialer.take_over()

    def _on_webhook(self, call: Call) -> None:
        """Wake the loop for a delivery it must act on now: a call's end (its slot is free),
        and any result once only analyses are awaited or when the dialer wants every one. The
        other results (an analysis arriving mid-run) wait for the next turn's write, except
        those the breakers and the budget act on, which are applied at once."""
        if self._breakers.watches(call):
            self._apply_now = True
        if (
            self._dialer.wakes_on_every_result
            or self._apply_now
            or self._only_analyses_awaited()
            or self._sync.frees_slot(call)
        ):
            self._wake.set()

    def _apply_due(self, now: float) -> bool:
        return now - self._applied_at >= self._dialer.apply_interval

    def _only_analyses_awaited(self) -> bool:
        """No call of ours up (and each result's slot known): nothing is gained by holding the
        writes any longer, and the run ends sooner if the last analyses are applied as they
        come."""
        return not self._dialer.wakes_on_every_result and not self._sync.in_progress()

    def _busy(self) -> bool:
        """Calls in progress or waiting to be applied, transcripts being fetched, or the dialer
        placing calls (or Retell placing a batch's)."""
        return bool(self._sync.live or self._sync.pushed or self._tasks or self._dialer.busy())

    def _next_turn_within(self) -> float:
        """Seconds until the loop must run again even if nothing wakes it."""
        if self._sync.pushed:
            until_apply = self._applied_at + self._dialer.apply_interval - self.clock.monotonic()
            return max(0.0, min(until_apply, self.options.poll_interval))
        return self.options.poll_interval

    def _idle_reason(self, status: CampaignStatus | None) -> str:
        if status is not CampaignStatus.ACTIVE:
            return f"campaign is {status.value if status else 'missing'}"
        if self._past_deadline():
            return "deadline reached"
        return self._dialer.idle_reason() or "nothing is due now"

    def _past_deadline(self) -> bool:
        deadline = self.options.deadline
        return deadline is not None and self.clock.now() >= deadline

    def _refill_freed_slots(self) -> int:
        """Send what the dialer has ready into slots freed since the last turn (a call's end
        frees its slot as soon as its webhook is taken). The status is re-read when due, and at
        once after this run paused the campaign: a pause stops the refills too."""
        if self._campaign_status() is not CampaignStatus.ACTIVE or self._past_deadline():
            return 0
        return self._dialer.refill()

    # -- results -------------------------------------------------------------------------------

    async def _sync_results(self) -> None:
        """Poll the calls this run follows, and collect what the dialer collects (batches)."""
        if self._sync.live:
            await self._sync.poll()
        await self._dialer.collect()

    def _on_applied(self, changed: AppliedResults) -> None:
        """Count what a write of results settled, and let the breakers and the budget judge it."""
        self._progress.calls_finished += changed.finished
        self._breakers.note_cost(changed.cost_cents)
        for outcome, reason in changed.settled:
            self._breakers.note_outcome(outcome, reason)
        if changed.want_transcripts:
            self._spawn(self._sync.fetch_transcripts(changed.want_transcripts))
        if changed.settled:
            self._dialer.results_applied()
        self._wake.set()

    # -- status, plumbing ------------------------------------------------------------------------

    def _campaign_status(self) -> CampaignStatus | None:
        """The campaign's status in the store, re-read at most every `status_refresh` seconds, so
        a pause or cancel from another process lands within that time; at once after a breaker
        tripped (this run pauses the campaign first)."""
        self._pause_if_tripped()
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

    def _pause_if_tripped(self) -> None:
        """Pause the campaign if a breaker tripped since the last look."""
        reason = self._breakers.take_trip()
        if reason is not None:
            self._pause(reason)

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
        self._progress.in_progress = self._sync.in_progress() + self._ledger.sending
        self._progress.calls_placed = self._dialer.calls_placed + self._reconciler.adopted
        if self._on_progress is not None:
            self._on_progress(self._progress)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("transcript task failed", exc_info=task.exception())
        self._wake.set()

    def _summary(self) -> RunSummary:
        now = self.clock.now()
        with self._session() as session:
            counts = campaigns.counts(session=session, campaign_id=self._campaign_id)
            status = campaigns.status(session=session, campaign_id=self._campaign_id)
            next_callable_at = next_callable_time(
                session, window=self.config.window, campaign_id=self._campaign_id, now=now
            )
        self._report_progress()
        return RunSummary(
            campaign=self.config.name,
            status=status.value if status else "missing",
            stop_reason=self._stop_reason,
            calls_placed=self._progress.calls_placed,
            calls_finished=self._progress.calls_finished,
            counts=counts,
            next_callable_at=next_callable_at,
        )
