"""Direct mode: one create request per contact, into the run's free slots.

Due contacts whose window is open are leased (`claims.claim_due`), their attempt rows written
ahead (`attempts.create`, each with its idempotency key), and kept ready, so that a freed slot is
refilled without a store round trip. A ready attempt is claimed for sending in the store
(`attempts.claim_first_sends`, a turn's refills in one statement) and handed to the
`CreateSender`, which paces it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Coroutine
from typing import Any

from campaigner.campaign import CampaignConfig
from campaigner.dialer.calls import variant_for
from campaigner.dialer.clock import Clock
from campaigner.dialer.creates import CreateSender
from campaigner.dialer.dialing import Dialer
from campaigner.dialer.groups import CallableGroup, CampaignGroups, claim_filter
from campaigner.dialer.number_cap import release_over_daily_cap
from campaigner.dialer.options import RunOptions
from campaigner.dialer.slots import SlotLedger
from campaigner.retell import RetellClient
from campaigner.store import (
    AttemptPlan,
    CallAttempt,
    Contact,
    Engine,
    attempts,
    claims,
    session_factory,
    transaction,
)

__all__ = ["DirectDialer"]

log = logging.getLogger(__name__)


class DirectDialer(Dialer):
    """Claims due contacts, writes their attempts ahead and starts their creates."""

    wakes_on_every_result = False
    fills_slots = True

    def __init__(
        self,
        *,
        config: CampaignConfig,
        engine: Engine,
        client: RetellClient,
        clock: Clock,
        options: RunOptions,
        ledger: SlotLedger,
        sender: CreateSender,
        wake: asyncio.Event,
    ) -> None:
        self._config = config
        self._engine = engine
        self._session = session_factory(engine)
        self._client = client
        self._clock = clock
        self._options = options
        self._ledger = ledger
        self._sender = sender
        self._wake = wake
        self.apply_interval = options.apply_interval
        self._campaign_id = 0
        self._ready: deque[tuple[CallAttempt, Contact]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._from_numbers = itertools.cycle(config.from_numbers)
        self._next_claim_at = float("-inf")
        self._groups = CampaignGroups(
            window=config.window, clock=clock, refresh_every=options.zone_sets_refresh
        )
        self._no_slot_since: float | None = None
        # Contacts may be due beyond those claimed (until a claim finds fewer than it asked for).
        self._more_due = True
        self._gave_up_waiting: str | None = None

    @property
    def calls_placed(self) -> int:
        return self._sender.calls_placed

    @property
    def ready(self) -> int:
        """Attempts written ahead, waiting for a slot."""
        return len(self._ready)

    def start(self, campaign_id: int) -> None:
        self._campaign_id = campaign_id

    def busy(self) -> bool:
        return bool(self._ledger.sending or self._tasks)

    def backlog(self) -> int | None:
        """The attempts written ahead, or as many slots as it gets while contacts may be due
        (looked at again every `idle_claim_interval` once a claim found fewer than it asked)."""
        now = self._clock.monotonic()
        if not self._more_due and now >= self._next_claim_at:
            self._more_due = self._count_due(at_most=1) > 0
            self._next_claim_at = now + self._options.idle_claim_interval
        return None if self._more_due else len(self._ready)

    # -- dialing -------------------------------------------------------------------------------

    def refill(self) -> int:
        return self._send_ready(self._ledger.free())

    async def dial_due(self) -> int:
        """Fill free slots from the attempts written ahead, then claim and write more: enough for
        the slots still free plus `ready_attempts` ahead (at most as many as the run's slots)."""
        free = self._ledger.free()
        started = self._send_ready(free)
        free -= started
        held = self._ledger.capacity.held
        ahead = min(self._options.ready_attempts, held)
        wanted = max(free, 0) + ahead - len(self._ready)
        topped_up = free <= 0 and len(self._ready) > ahead // 2
        now_mono = self._clock.monotonic()
        if topped_up or now_mono < self._next_claim_at or held <= 0:
            return started
        now = self._clock.now()
        owner = self._ledger.owner
        # Three units of work, as the dial path needs them durable: the leases, the leases given
        # back over a cap, then every attempt row, committed before any request goes out.
        with transaction(self._engine) as session:
            open_groups = self._groups.open_at(session, self._campaign_id, now)
            contacts = (
                claims.claim_due(
                    session=session,
                    campaign_id=self._campaign_id,
                    now=now,
                    limit=wanted,
                    lease_owner=owner,
                    lease_seconds=self._options.lease_seconds,
                    timezones=claim_filter(open_groups),
                )
                if open_groups
                else []
            )
        contacts = release_over_daily_cap(
            self._engine, self._config, contacts, lease_owner=owner, now=now
        )
        with transaction(self._engine) as session:
            written = (
                attempts.create(
                    session=session,
                    plans=[self._plan(contact) for contact in contacts],
                    lease_owner=owner,
                    now=now,
                )
                if contacts
                else []
            )
        self._more_due = len(contacts) >= wanted
        if not self._more_due:
            # Fewer were due than there was room for: more become due only as time passes.
            self._next_claim_at = now_mono + self._options.idle_claim_interval
        by_id = {contact.id: contact for contact in contacts}
        self._ready.extend((attempt, by_id[attempt.contact_id]) for attempt in written)
        return started + self._send_ready(free) + len(contacts)

    def _send_ready(self, free: int) -> int:
        """Start up to `free` of the attempts written ahead; give back those whose window closed."""
        now = self._clock.now()
        chosen: list[tuple[CallAttempt, Contact]] = []
        closed: list[tuple[CallAttempt, Contact]] = []
        while len(chosen) < free and self._ready:
            attempt, contact = self._ready.popleft()
            if CallableGroup.of(contact).callable_at(self._config.window, now):
                chosen.append((attempt, contact))
            else:
                closed.append((attempt, contact))
        self._withdraw(closed)
        if not chosen:
            return 0
        # The right to send them, taken in the store for all of them at once: an attempt
        # another run took over meanwhile (this run lost its lease) is not sent.
        # Committed before any of the requests: the claim is what makes a second send impossible.
        with transaction(self._engine) as session:
            claimed = attempts.claim_first_sends(
                session=session,
                attempt_ids=[attempt.id for attempt, _ in chosen if attempt.id is not None],
                owner=self._ledger.owner,
                retell_time=self._client.server_clock.at_least(),
            )
        claimed_at = self._clock.monotonic()
        for attempt, contact in chosen:
            if attempt.id in claimed:
                self._ledger.sending += 1
                self._spawn(self._sender.send_claimed(attempt, contact, claimed_at))
        return len(claimed)

    def _plan(self, contact: Contact) -> AttemptPlan:
        variant = variant_for(self._config, contact.variant)
        return AttemptPlan(
            contact=contact,
            agent_id=variant.agent_id,
            agent_version=variant.version if isinstance(variant.version, int) else None,
            from_number=next(self._from_numbers),
            variant=variant.name,
        )

    # -- waiting for a slot --------------------------------------------------------------------

    def waiting(self) -> bool:
        """Other traffic, or campaigns of higher priority, hold every slot the campaign could have
        of the workspace while contacts are due: wait for a slot up to `capacity_wait` seconds,
        then stop with the reason (`idle_reason`)."""
        if not self._ledger.capacity.without_part or not self._count_due(at_most=1):
            self._no_slot_since = None
            return False
        now = self._clock.monotonic()
        reading = self._ledger.capacity.reading
        if self._no_slot_since is None:
            self._no_slot_since = now
            log.warning(
                "campaign %s: contacts are due but other traffic or other campaigns hold the "
                "workspace's concurrency (%d of %d outbound calls are not campaigner's); "
                "waiting up to %.0f s for a slot",
                self._config.name,
                reading.other_traffic,
                reading.outbound,
                self._options.capacity_wait,
            )
        if now - self._no_slot_since < self._options.capacity_wait:
            return True
        holders = (
            "other traffic"
            if self._ledger.capacity.workspace_slots() <= 0
            else "other campaigns of higher priority"
        )
        self._gave_up_waiting = (
            f"{self._count_due()} contacts are due, but the workspace's concurrency is used by "
            f"{holders} ({reading.other_traffic} of {reading.outbound} outbound calls are not "
            f"campaigner's) for {self._options.capacity_wait:.0f} s; run again later"
        )
        return False

    def _count_due(self, *, at_most: int | None = None) -> int:
        """How many of the campaign's contacts are due now, in zones whose window is open."""
        now = self._clock.now()
        with self._session() as session:
            return claims.count_due(
                session=session,
                campaign_id=self._campaign_id,
                now=now,
                timezones=claim_filter(self._groups.open_at(session, self._campaign_id, now)),
                at_most=at_most,
            )

    def idle_reason(self) -> str | None:
        return self._gave_up_waiting

    # -- giving back ---------------------------------------------------------------------------

    def record_sent(self) -> None:
        self._sender.record_sent()

    def stop_dialing(self) -> None:
        """Give back every attempt written ahead."""
        ready, self._ready = list(self._ready), deque()
        self._withdraw(ready)

    def forget_owned(self) -> None:
        self._ready.clear()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._sender.record_sent()
        self.stop_dialing()
        self._sender.withdraw_cancelled()

    def _withdraw(self, ready: list[tuple[CallAttempt, Contact]]) -> None:
        """Attempts written ahead that will not be sent now: their contacts are due again."""
        ids = [attempt.id for attempt, _ in ready if attempt.id is not None]
        if ids:
            with transaction(self._engine) as session:
                attempts.withdraw_unsent(
                    session=session,
                    attempt_ids=ids,
                    owner=self._ledger.owner,
                    now=self._clock.now(),
                )

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dial task failed", exc_info=task.exception())
        # Each send wakes the loop when Retell answers: its slot's fate is known.
        self._wake.set()
