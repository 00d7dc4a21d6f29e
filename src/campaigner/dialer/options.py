"""How a run behaves: the knobs of `CampaignRunner` (what the campaign is, is `CampaignConfig`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from campaigner.dialer.batching import BatchOptions

__all__ = ["RunOptions"]


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
