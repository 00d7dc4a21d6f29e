"""A run's slots: how many calls it may have in progress, and how many it has.

The ledger is the one place that says which calls are the run's ("ours"):

- `calls_at_retell`: calls Retell may be counting for this run — followed calls, creates on the
  wire, creates whose answer was lost. Taken out of Retell's concurrency reading, so that they
  are not mistaken for other traffic.
- `slots_taken`: what occupies the run's slots — the same, but counting every claimed create
  from its claim (a create waiting for the rate limiter will take a slot as soon as it goes).

The run's slots come from its lease in the store (`run_leases.hold`), renewed every
`run_lease_renew` seconds: the runs of every campaign dialing one Retell workspace split its
slots (`CapacityGauge.workspace_slots`), each campaign's part by its priority and what its runs
want (`backlog`). Liveness of the other runs is judged by their beats (`LeaseWatch`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta

from campaigner.campaign import CampaignConfig
from campaigner.dialer.capacity import CapacityGauge
from campaigner.dialer.clock import Clock
from campaigner.dialer.leases import LeaseWatch, new_run_owner
from campaigner.retell import RetellClient
from campaigner.store import Engine, attempts, run_leases, session_factory, transaction

__all__ = ["LONG_GONE", "SlotLedger"]

LONG_GONE = timedelta(hours=1)
"""A lease row whose run said it would renew this long ago is deleted when a run starts: clocks of
machines disagree by seconds, never by an hour, so its run is gone."""

log = logging.getLogger(__name__)


class SlotLedger:
    """One run's lease, slots and calls in flight.

    `followed` counts the calls the run follows (`ResultSync.in_progress`); `in_doubt` the
    creates whose answer was lost (the reconciler's). The ledger reads them, never changes them.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        client: RetellClient,
        clock: Clock,
        config: CampaignConfig,
        concurrency_refresh: float,
        followed: Callable[[], int],
        in_doubt: Callable[[], int],
        lease_seconds: float,
        renew_every: float,
    ) -> None:
        self._engine = engine
        self._session = session_factory(engine)
        self._clock = clock
        self.capacity = CapacityGauge(
            client=client,
            clock=clock,
            refresh_every=concurrency_refresh,
            count_ours=self.calls_at_retell,
        )
        self._workspace = workspace_of(client)
        self._priority = config.priority
        self._campaign_cap = config.caps.max_concurrency
        self._followed = followed
        self._in_doubt = in_doubt
        self._lease_seconds = lease_seconds
        self._renew_every = renew_every
        self.owner = new_run_owner()
        self.live_owners: tuple[str, ...] = (self.owner,)
        self._leases = LeaseWatch(lease_seconds=lease_seconds, monotonic=clock.monotonic)
        self._campaign_id = 0
        self._held = False
        self._renewed_at = self._reading_at = float("-inf")
        # Creates claimed and not yet answered (waiting for the rate limiter or on the wire),
        # and the part of them on the wire.
        self.sending = 0
        self.creating = 0

    def start(self, campaign_id: int) -> None:
        """Begin on the campaign; the rows of runs long gone are cleared away first."""
        self._campaign_id = campaign_id
        with transaction(self._engine) as session:
            run_leases.drop_expired(session=session, before=self._clock.now() - LONG_GONE)

    def calls_at_retell(self) -> int:
        """Calls Retell may be counting for this run (see the module docstring)."""
        return self._followed() + self.creating + self._in_doubt()

    def slots_taken(self) -> int:
        """The run's slots in use (see the module docstring)."""
        return self._followed() + self.sending + self._in_doubt()

    def free(self) -> int:
        """Slots the run may fill now (negative when it holds more calls than slots)."""
        return self.capacity.held - self.slots_taken()

    @property
    def alone(self) -> bool:
        """No other run of the campaign is live."""
        return self.live_owners == (self.owner,)

    def hold(self, *, backlog: int | None, force: bool = False) -> bool:
        """Renew the run's lease when due (or `force`, or after a new concurrency reading),
        holding its part of the slots. `backlog`: the slots its dialer could fill beyond those
        taken (None: as many as it gets, contacts are due), which sizes its campaign's part.
        Returns False when another run had dropped the lease (this
        run was paused or hung past it) and may have taken over its attempts: the run must let go
        of them and go on under a new name (`renew_owner`)."""
        now = self._clock.monotonic()
        due = now - self._renewed_at >= self._renew_every
        fresh_reading = self.capacity.reading.read_at != self._reading_at
        if not (force or due or fresh_reading):
            return True
        self._renewed_at = now
        self._reading_at = self.capacity.reading.read_at
        had_lease = self._held
        with transaction(self._engine) as session:
            taken = self.slots_taken()
            share = run_leases.hold(
                session=session,
                owner=self.owner,
                campaign_id=self._campaign_id,
                workspace=self._workspace,
                workspace_slots=self.capacity.workspace_slots(),
                calls_in_progress=taken,
                wanted=None if backlog is None else taken + backlog,
                priority=self._priority,
                campaign_cap=self._campaign_cap,
                seconds=self._lease_seconds,
                # Runs whose beat stood still for a lease time, or whose process is gone.
                stale=self._leases.stale(),
                now=self._clock.now(),
            )
        self._held = True
        self._leases.observe(share.beats)
        self.live_owners = (self.owner, *share.others)
        self.capacity.hold(share)
        return not (had_lease and not share.renewed)

    def renew_owner(self, *, backlog: int | None) -> None:
        """Go on under a new name after the lease was lost (see `hold`), once the run has let go
        of everything it held under the old one."""
        old = self.owner
        log.warning(
            "run %s lost its lease (paused or too slow to renew); going on as a new run", old
        )
        self.owner = new_run_owner()
        self.live_owners = (self.owner,)
        self._held = False
        with transaction(self._engine) as session:
            run_leases.drop(session=session, owner=old)
        self.hold(backlog=backlog, force=True)

    def watching_holders(self) -> bool:
        """Another run whose liveness is not decided yet holds attempts without a call: if it
        is gone, they become this run's to take over within a lease time."""
        undecided = self._leases.undecided()
        if not undecided:
            return False
        with self._session() as session:
            holders = attempts.owners_without_call(session=session, campaign_id=self._campaign_id)
        return bool(holders & undecided)

    def release(self) -> None:
        """The run ends: its slots go back to the campaign's other runs at once."""
        with transaction(self._engine) as session:
            run_leases.drop(session=session, owner=self.owner)


def workspace_of(client: RetellClient) -> str:
    """The name of the Retell workspace a client dials, for the ledger: its address and API key,
    hashed (runs dialing one workspace with the same key share its slots)."""
    return hashlib.sha256(f"{client.base_url}|{client.key_fingerprint}".encode()).hexdigest()
