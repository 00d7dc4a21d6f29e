"""Batch mode: due contacts go to Retell as batch calls, one per calling zone and agent variant.

Retell's `create-batch-call` paces the calls itself (so the orchestrator may go offline once a
batch is in), but it takes one `call_time_window` in one timezone, has no retries, no idempotency
key and no way to read a batch back. Campaigner fills those gaps:

- **Group** (`group_contacts`): due contacts by candidate-zone set and variant, chunked to the
  campaign's `batch.size`.
- **Schedule** (`batch_schedule`): the campaign window in the group's zone (for a number that may
  be in several zones, the part of the window open in all of them), on the days it is open in the
  coming week (holidays left out), and `trigger_timestamp` at its next opening.
- **Record, then request** (`BatchDialer.dial_due`): the batch row and one attempt per task are
  committed before `create-batch-call`; each task carries the contact's dynamic variables, the
  variant's agent, and `metadata = {campaign, contact, attempt, attempt_number, batch}`.
- **Reconcile** (`BatchDialer.reconcile`): a batch whose answer was lost (or a run that died before
  it came) is looked up by its metadata through list-calls. Found: Retell has it. Not found, it
  is given up (and its contacts go out in a later batch) only once Retell has had room to dial it
  for `lost_batch_grace` seconds on end: its trigger passed, its window open, free slots beyond
  its reservation. So a retry never sends a second batch of tasks Retell still holds.
- **Refused** (`BatchDialer._refused`): Retell created nothing. A 400 naming the task it refuses
  (by index or number) settles that task's contact as a refused direct create is
  (`refusals.refused_call_outcome`) and sends the other tasks again at once, in one batch: the
  campaign goes on. A 400 naming no task, and account and configuration refusals, pause it; a
  429 waits.
- **Collect** (`BatchDialer.collect`): finished calls of the open batches, swept by
  `batch_call_id` with no time filter (Retell need not give a call that never connected an
  `end_timestamp`, and a time filter would never match it), go through the same
  `ResultSync.apply` as direct mode; views unchanged since the last sweep are not applied again.
  Retries become due like any other and go out in follow-up batches.
- **Expire** (`BatchDialer._expire_undialed`): tasks Retell never dials would keep their
  contacts `dialing` for ever. Once a batch has had a whole opening of its window in which
  Retell dialed none of it, and the window has been shut for `UNDIALED_TASK_GRACE` since, its tasks
  without a call are settled as a blameless `transient_failure` (not counted against the
  contact) and go out again in a later batch. Should Retell dial such a task after all, its call
  is recorded as a second call of the attempt, never lost.

Tasks handed to Retell are out of campaigner's hands until dialed: a number suppressed after its
batch was sent can still be called by it. `batch.submit_ahead` bounds how early a batch goes in.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from campaigner.campaign import CallWindow, CampaignConfig, OutcomeClass
from campaigner.dialer.breakers import Breakers
from campaigner.dialer.calls import call_metadata, variant_for
from campaigner.dialer.clock import Clock
from campaigner.dialer.dialing import Dialer
from campaigner.dialer.groups import read_groups
from campaigner.dialer.number_cap import release_over_daily_cap
from campaigner.dialer.refusals import ACCOUNT_ERRORS, CONFIG_ERRORS, refused_call_outcome
from campaigner.dialer.results import settle_attempts
from campaigner.dialer.sync import ResultSync
from campaigner.dialer.windows import is_callable_at, next_callable_at
from campaigner.retell import (
    FINISHED_CALL_STATUSES,
    AmbiguousCreate,
    BadRequest,
    BatchCallTask,
    Call,
    CallTimeWindow,
    Concurrency,
    RateLimited,
    ResponseFormatError,
    RetellClient,
    RetellError,
    TimeWindow,
    call_filter,
)
from campaigner.store import (
    BatchState,
    BatchSubmission,
    Contact,
    Engine,
    Session,
    batches,
    claims,
    session_factory,
    transaction,
)

__all__ = [
    "BatchDialer",
    "BatchOptions",
    "BatchSchedule",
    "TaskGroup",
    "batch_schedule",
    "group_contacts",
    "last_closed_opening",
    "window_is_open",
    "window_opens_by",
]

log = logging.getLogger(__name__)

RETELL_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_WEEK = 7
_OFFSET_HORIZON_DAYS = 8 * _WEEK
_MINUTES_PER_DAY = 1440
_NOT_SENT = (BatchState.PENDING_SEND, BatchState.AMBIGUOUS)
# How a 400 names the tasks it refuses: by index, as Retell names a request's fields, or number.
_TASK_FIELD = re.compile(r"tasks\[(\d+)\](?:\.(\w+))?")
_E164 = re.compile(r"\+\d{6,15}(?!\d)")
_REFUSALS_THAT_PAUSE = (*ACCOUNT_ERRORS, *CONFIG_ERRORS, BadRequest)

UNDIALED_TASK_GRACE = timedelta(hours=2, minutes=15)
"""How long a batch's window must have been shut before its tasks without a call expire: longer
than the longest call Retell allows (`max_call_duration_ms` is at most two hours), so a call that
started as the window closed has ended, and been listed as finished, by then."""


# --- grouping and scheduling (pure) -----------------------------------------------------------


@dataclass(frozen=True)
class TaskGroup:
    """Contacts that go into one batch: one candidate-zone set, one variant, at most `size`."""

    zones: tuple[str, ...]
    variant: str | None
    contacts: tuple[Contact, ...]


def group_contacts(contacts: Iterable[Contact], size: int) -> list[TaskGroup]:
    """Group contacts by candidate-zone set and variant (first seen first), chunked to `size`."""
    if size < 1:
        raise ValueError(f"a batch holds at least one task, not {size}")
    groups: dict[tuple[str, str | None], list[Contact]] = {}
    for contact in contacts:
        groups.setdefault((contact.timezone_key, contact.variant), []).append(contact)
    return [
        TaskGroup(
            zones=tuple(key.split("|")) if key else (),
            variant=variant,
            contacts=tuple(members[start : start + size]),
        )
        for (key, variant), members in groups.items()
        for start in range(0, len(members), size)
    ]


@dataclass(frozen=True)
class BatchSchedule:
    """When Retell may dial one batch: its `call_time_window` and its trigger time."""

    call_time_window: CallTimeWindow
    trigger_at: datetime | None

    @property
    def timezone(self) -> str:
        return self.call_time_window.timezone or ""


def batch_schedule(window: CallWindow, zones: Sequence[str], now: datetime) -> BatchSchedule | None:
    """The window and trigger for a batch of contacts in `zones` (their candidate zones), or None
    when the campaign window does not open for them within three weeks.

    The window is written in the first zone. For several zones it is the part of the campaign
    window open in every zone, with the zones' offsets taken over the coming week (so a DST change
    in one of them only narrows it). Its days are those of the week from the next opening on
    which the window is open in every zone at its first and last minute: campaign days, holidays
    left out (a batch still dialing a week later could meet a holiday of the next week).
    """
    opening = next_callable_at(window, zones, now)
    if opening is None:
        return None
    zone_name = sorted(zones)[0]
    zone = ZoneInfo(zone_name)
    first_day = opening.astimezone(zone).date()
    week = [first_day + timedelta(days=offset) for offset in range(_WEEK)]
    # Retell repeats the window every week for as long as the batch dials: the zones' offsets
    # over the coming weeks (a DST change in one zone but not another) only narrow it.
    weeks = [first_day + timedelta(days=offset) for offset in range(_OFFSET_HORIZON_DAYS)]
    shifts = [_offset_minutes(zone, day, other) for other in zones for day in weeks]
    start = max(0, _minute_of_day(window.start) + max(shifts))
    end = min(_MINUTES_PER_DAY, _minute_of_day(window.end) + min(shifts))
    if start >= end:
        return None
    open_days = [
        day
        for day in week
        if all(
            is_callable_at(window, zones, _local_moment(zone, day, minute))
            for minute in (start, end - 1)
        )
    ]
    if not open_days:
        return None
    days = sorted({day.weekday() for day in open_days})
    return BatchSchedule(
        call_time_window=CallTimeWindow(
            windows=[TimeWindow(start=start, end=end)],
            timezone=zone_name,
            day=[RETELL_DAY_NAMES[day] for day in days],
        ),
        trigger_at=opening if opening > now else None,
    )


def window_is_open(call_time_window: dict[str, Any], moment: datetime) -> bool:
    """True when Retell may dial a batch sent with this `call_time_window` at `moment`."""
    return window_opens_by(call_time_window, moment, moment)


def window_opens_by(call_time_window: dict[str, Any], start: datetime, end: datetime) -> bool:
    """True when the window is open at some minute from `start` to `end` (both included)."""
    sent = CallTimeWindow.model_validate(call_time_window)
    zone = ZoneInfo(sent.timezone or "America/Los_Angeles")
    moment = start
    while moment <= end:
        local = moment.astimezone(zone)
        minute = local.hour * 60 + local.minute
        on_day = not sent.day or RETELL_DAY_NAMES[local.weekday()] in sent.day
        if on_day and any(span.start <= minute < span.end for span in sent.windows):
            return True
        moment += timedelta(minutes=1)
    return False


def last_closed_opening(
    call_time_window: dict[str, Any], moment: datetime
) -> tuple[datetime, datetime] | None:
    """When the window last opened and closed again by `moment` (its latest span that has
    ended, within a week), or None when it has not closed in that time."""
    sent = CallTimeWindow.model_validate(call_time_window)
    zone = ZoneInfo(sent.timezone or "America/Los_Angeles")
    today = moment.astimezone(zone).date()
    spans = sorted(sent.windows, key=lambda span: span.end, reverse=True)
    for day in (today - timedelta(days=back) for back in range(_WEEK + 1)):
        if sent.day and RETELL_DAY_NAMES[day.weekday()] not in sent.day:
            continue
        for span in spans:
            closed = _local_moment(zone, day, span.end)
            if closed <= moment:
                return _local_moment(zone, day, span.start), closed
    return None


def _may_dial_at(batch: BatchSubmission, moment: datetime) -> bool:
    """True when Retell, if it has the batch, may dial it at `moment` (trigger and window)."""
    if batch.trigger_at is not None and batch.trigger_at > moment:
        return False
    return not batch.call_time_window or window_is_open(batch.call_time_window, moment)


def _minute_of_day(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _offset_minutes(zone: ZoneInfo, day: date, other: str) -> int:
    """How far `zone`'s clock is ahead of `other`'s at noon of `day` (in `zone`), in minutes."""
    noon = datetime.combine(day, time(12), tzinfo=zone)
    ahead = noon.utcoffset() or timedelta(0)
    behind = noon.astimezone(ZoneInfo(other)).utcoffset() or timedelta(0)
    return int((ahead - behind).total_seconds() // 60)


def _local_moment(zone: ZoneInfo, day: date, minute: int) -> datetime:
    local = datetime.combine(day, time(), tzinfo=zone) + timedelta(minutes=minute)
    return local.astimezone(UTC)


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# --- the dialer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOptions:
    """How batch mode behaves in a run (the campaign's own settings are `config.batch`)."""

    submit_interval: float = 5.0
    # Webhook results are written this often in batch mode (`RunOptions.apply_interval` in direct
    # mode): a batch run cannot tell its last call from the others, so it cannot apply the last
    # analyses at once, and a longer interval would lengthen its end.
    apply_interval: float = 0.5
    claim_limit: int = 5_000
    # Longer than a create's read timeout (120 s): Retell may still be taking a batch whose
    # answer we gave up on; only then does no call mean no batch.
    lost_batch_grace: float = 180.0
    stalled_after: float = 900.0
    # A batch whose window opens within this time is waited for: a gap (23:59 to 00:00, say)
    # does not end the run.
    window_gap: timedelta = timedelta(minutes=10)


class BatchDialer(Dialer):
    """Submits due contacts as batches, reconciles lost ones and collects their calls.

    Refusals that concern the account or the batch itself trip `breakers` (the run pauses).
    """

    wakes_on_every_result = True
    # Retell paces a batch's calls itself, within `batch.reserved_concurrency`.
    fills_slots = False

    def __init__(
        self,
        *,
        config: CampaignConfig,
        engine: Engine,
        client: RetellClient,
        clock: Clock,
        sync: ResultSync,
        lease_owner: str,
        lease_seconds: float,
        breakers: Breakers,
        options: BatchOptions | None = None,
    ) -> None:
        self._config = config
        self._engine = engine
        self._session = session_factory(engine)
        self._client = client
        self._clock = clock
        self._sync = sync
        self._owner = lease_owner
        self._lease_seconds = lease_seconds
        self._breakers = breakers
        self._options = options or BatchOptions()
        self.apply_interval = self._options.apply_interval
        self._from_numbers = itertools.cycle(config.from_numbers)
        self._campaign_id = 0
        self._next_submit_at = float("-inf")
        self._open: list[BatchSubmission] = []
        self._open_stale = True
        self._finished: dict[int, int] = {}
        self._moved_at: dict[int, float] = {}
        # When this run saw a task of the batch settle, on the wall clock (for expiry).
        self._moved_on: dict[int, datetime] = {}
        # Per open batch, a digest of each call's last view applied: a sweep applies only news.
        self._applied_views: dict[int, dict[str, int]] = {}
        self._room_since: dict[int, float] = {}
        self.ambiguous: dict[int, BatchSubmission] = {}
        self.tasks_submitted = 0
        self._halted = False

    @property
    def calls_placed(self) -> int:
        """The tasks Retell accepted (it places their calls itself)."""
        return self.tasks_submitted

    def start(self, campaign_id: int) -> None:
        """Start on a campaign: its open batches are read."""
        self._campaign_id = campaign_id
        self._refresh_open()

    def take_over(self) -> None:
        """Batches a previous run sent, or may have sent, are this run's to reconcile. Only
        once no other run of the campaign is live: a live run may have its create-batch-call
        for them still in flight (no idempotency key), and giving one back and resending its
        contacts could dial them twice."""
        self._refresh_open()
        for batch in self._open:
            if batch.state in _NOT_SENT and batch.id is not None:
                self.ambiguous[batch.id] = batch

    # -- submitting ----------------------------------------------------------------------------

    async def dial_due(self) -> int:
        """Claim due contacts whose window opens soon enough and send them as batches; returns
        the number of tasks sent (or possibly sent)."""
        now_mono = self._clock.monotonic()
        if now_mono < self._next_submit_at:
            return 0
        self._next_submit_at = now_mono + self._options.submit_interval
        now = self._clock.now()
        # The leases are committed before the batch is recorded (`batches.create`, its own unit).
        with transaction(self._engine) as session:
            schedules = self._schedules(session, now)
            contacts = (
                claims.claim_due(
                    session=session,
                    campaign_id=self._campaign_id,
                    now=now,
                    limit=self._options.claim_limit,
                    lease_owner=self._owner,
                    lease_seconds=self._lease_seconds,
                    timezones=list(schedules),
                )
                if schedules
                else []
            )
            if len(contacts) == self._options.claim_limit:
                self._next_submit_at = float("-inf")  # more are due: carry on next turn
        contacts = release_over_daily_cap(
            self._engine, self._config, contacts, lease_owner=self._owner, now=now
        )
        sent = 0
        self._halted = False
        groups = group_contacts(contacts, self._config.batch.size)
        for index, group in enumerate(groups):
            if self._halted:
                # Paused or told to wait by a refusal: the rest of this turn's contacts stay due.
                with transaction(self._engine) as session:
                    unsent = [c.id for later in groups[index:] for c in later.contacts if c.id]
                    claims.release(session=session, contact_ids=unsent, lease_owner=self._owner)
                break
            sent += await self._submit(group, schedules[group.zones], now)
        return sent

    def _schedules(self, session: Session, now: datetime) -> dict[tuple[str, ...], BatchSchedule]:
        """The schedule of every zone set with contacts to dial, if it opens within
        `batch.submit_ahead`."""
        schedules = {}
        horizon = now + self._config.batch.submit_ahead
        for group in read_groups(session, self._campaign_id):
            schedule = batch_schedule(self._config.window, group.zones, now)
            if schedule is not None and (schedule.trigger_at or now) <= horizon:
                schedules[group.zones] = schedule
        return schedules

    async def _submit(self, group: TaskGroup, schedule: BatchSchedule, now: datetime) -> int:
        """Send a group as a batch, and what is left of it after each refusal naming tasks (a loop,
        not recursion: a batch of 5,000 may be refused many times). Returns the tasks sent."""
        sent = 0
        left: TaskGroup | None = group
        while left is not None:
            count, left = await self._submit_once(left, schedule, now)
            sent += count
        return sent

    async def _submit_once(
        self, group: TaskGroup, schedule: BatchSchedule, now: datetime
    ) -> tuple[int, TaskGroup | None]:
        """Send one batch; returns the tasks sent (or possibly sent) and, when Retell refused some
        of them by name, the others, to be sent again at once."""
        variant = variant_for(self._config, group.variant)
        window = schedule.call_time_window.model_dump(exclude_none=True)
        # The batch and its attempts are committed before the batch is requested.
        with transaction(self._engine) as session:
            recorded = batches.create(
                session=session,
                campaign_id=self._campaign_id,
                contacts=group.contacts,
                lease_owner=self._owner,
                from_number=next(self._from_numbers),
                timezone=schedule.timezone,
                variant=variant.name,
                agent_id=variant.agent_id,
                agent_version=variant.version if isinstance(variant.version, int) else None,
                trigger_at=schedule.trigger_at,
                call_time_window=window,
                now=now,
            )
        if recorded is None:
            return 0, None
        batch, attempts = recorded
        assert batch.id is not None
        contacts = {contact.id: contact for contact in group.contacts}
        tasks = [
            BatchCallTask(
                to_number=attempt.to_number,
                retell_llm_dynamic_variables=contacts[attempt.contact_id].dynamic_variables,
                metadata={
                    **call_metadata(self._config, contacts[attempt.contact_id], attempt),
                    "batch": str(batch.id),
                },
                override_agent_id=variant.agent_id,
                override_agent_version=variant.version,
            )
            for attempt in attempts
        ]
        try:
            answer = await self._client.create_batch_call(
                from_number=batch.from_number,
                tasks=tasks,
                name=f"{self._config.name}-{batch.id}",
                trigger_timestamp=_epoch_ms(schedule.trigger_at) if schedule.trigger_at else None,
                reserved_concurrency=self._config.batch.reserved_concurrency,
                call_time_window=schedule.call_time_window,
            )
        except (AmbiguousCreate, ResponseFormatError) as error:
            # A 2xx answer that does not parse still means Retell created the batch.
            with transaction(self._engine) as session:
                batches.mark_send_failed(
                    session=session, batch_id=batch.id, ambiguous=True, detail=str(error)
                )
            self.ambiguous[batch.id] = batch
            self._open_stale = True
            return len(attempts), None
        except RetellError as error:
            # The tasks sent: contacts whose lease was lost meanwhile got no attempt.
            sent = tuple(contacts[attempt.contact_id] for attempt in attempts)
            sent_group = TaskGroup(zones=group.zones, variant=group.variant, contacts=sent)
            return 0, self._refused(batch.id, sent_group, tasks, error)
        with transaction(self._engine) as session:
            batches.mark_sent(
                session=session,
                batch_id=batch.id,
                retell_batch_id=answer.batch_call_id,
                sent_at=self._clock.now(),
            )
        self.tasks_submitted += len(attempts)
        self._open_stale = True
        return len(attempts), None

    def _refused(
        self,
        batch_id: int,
        group: TaskGroup,
        tasks: Sequence[BatchCallTask],
        error: RetellError,
    ) -> TaskGroup | None:
        """Retell refused the batch, so none of its calls exists; returns the tasks to send again.

        A 400 that names tasks (`tasks[3]...`, or their numbers) refuses those: their contacts
        are settled as a refused direct create is, and the other tasks are returned, to go again
        at once as one batch. A 400 that names no task, or names a field every task has the same
        value in (`tasks[0].override_agent_version`), is about the batch itself: like account and
        configuration refusals it pauses the campaign, and every contact is due again,
        uncounted. A 429 waits.
        """
        refused = (
            _named_tasks(error.message, group.contacts, tasks)
            if isinstance(error, BadRequest)
            else []
        )
        if refused:
            assert isinstance(error, BadRequest)
            return self._settle_refused(batch_id, group, refused, error)
        if isinstance(error, _REFUSALS_THAT_PAUSE):
            self._breakers.trip(f"Retell refused a batch: {error}")
            self._halted = True
        elif isinstance(error, RateLimited):
            self._next_submit_at = self._clock.monotonic() + (error.retry_after or 1.0)
            self._halted = True
        self._close(batch_id, str(error))
        return None

    def _settle_refused(
        self, batch_id: int, group: TaskGroup, refused: list[Contact], error: BadRequest
    ) -> TaskGroup | None:
        """Settle the refused tasks' contacts; returns the batch's other tasks, to go again.

        Closing the refused batch, settling its contacts and leasing the others to this run
        again is one transaction, so a crash leaves none `dialing` behind a closed batch (those
        leased again are due once their lease expires), and the run's other claims do not take
        them before they go out again. Each refused task named costs one more request.
        """
        outcome = refused_call_outcome(error)
        self._close(
            batch_id,
            str(error),
            refused={contact.id: outcome for contact in refused if contact.id is not None},
            lease_again=True,
        )
        rest = tuple(contact for contact in group.contacts if contact not in refused)
        if not rest:
            return None
        log.debug("batch %s: %d task(s) refused, %d go again", batch_id, len(refused), len(rest))
        return TaskGroup(zones=group.zones, variant=group.variant, contacts=rest)

    def _close(
        self,
        batch_id: int,
        detail: str,
        *,
        refused: Mapping[int, OutcomeClass] | None = None,
        lease_again: bool = False,
    ) -> None:
        """Close a batch Retell does not have, in one transaction (a crash cannot leave its
        contacts `dialing`). The attempts of the contacts in `refused` end with their outcome;
        the others do not count and leave their contacts due again (with `lease_again`, leased
        to this run, to be sent again at once)."""
        refused = refused or {}
        now = self._clock.now()
        with transaction(self._engine) as session:
            attempts = batches.mark_send_failed(
                session=session, batch_id=batch_id, ambiguous=False, detail=detail
            )
            settle_attempts(
                session,
                config=self._config,
                attempts={
                    a.id: (a.contact_id, refused[a.contact_id])
                    for a in attempts
                    if a.id is not None and a.contact_id in refused
                },
                now=now,
            )
            given_back = settle_attempts(
                session,
                config=self._config,
                attempts={
                    a.id: (a.contact_id, OutcomeClass.TRANSIENT_FAILURE)
                    for a in attempts
                    if a.id is not None and a.contact_id not in refused
                },
                now=now,
                blameless=True,
            )
            if lease_again:
                claims.lease_again(
                    session=session,
                    contact_ids=[a.contact_id for a in attempts if a.id in given_back],
                    lease_owner=self._owner,
                    lease_seconds=self._lease_seconds,
                    now=now,
                )
        self._open_stale = True

    # -- reconciling ---------------------------------------------------------------------------

    async def reconcile(self) -> None:
        """Resolve batches whose create may have reached Retell, never sending their tasks twice."""
        if not self.ambiguous:
            return
        try:
            concurrency: Concurrency | None = await self._client.get_concurrency()
        except RetellError as error:
            log.warning("could not read concurrency to reconcile batches: %s", error)
            concurrency = None
        now, now_mono = self._clock.now(), self._clock.monotonic()
        for batch_id, batch in sorted(self.ambiguous.items()):
            try:
                calls = await self._calls(call_filter(metadata=self._batch_metadata(batch_id)))
            except RetellError as error:
                log.warning("reconcile lookup for batch %s failed: %s", batch_id, error)
                continue
            if calls:
                self._adopt(batch_id, calls)
            elif concurrency is not None and self._would_dial(batch, concurrency, now):
                since = self._room_since.setdefault(batch_id, now_mono)
                if now_mono - since >= self._options.lost_batch_grace:
                    log.warning("batch %s never reached Retell: its contacts go again", batch_id)
                    del self.ambiguous[batch_id]
                    self._close(batch_id, "create-batch-call answer lost; no call followed")
            else:
                self._room_since.pop(batch_id, None)

    def _adopt(self, batch_id: int, calls: list[Call]) -> None:
        """Retell has the batch (its calls carry its metadata); its id stays unknown."""
        with transaction(self._engine) as session:
            batches.mark_sent(
                session=session, batch_id=batch_id, retell_batch_id=None, sent_at=self._clock.now()
            )
        batch = self.ambiguous.pop(batch_id)
        self._room_since.pop(batch_id, None)
        self.tasks_submitted += batch.task_count
        self._open_stale = True
        self._sync.apply(calls)

    def _would_dial(self, batch: BatchSubmission, concurrency: Concurrency, now: datetime) -> bool:
        """True when Retell, if it had this batch, would be dialing it now."""
        if not _may_dial_at(batch, now):
            return False
        free = (concurrency.outbound_capacity or 0) - (concurrency.current_concurrency or 0)
        return free > self._config.batch.reserved_concurrency

    # -- collecting ----------------------------------------------------------------------------

    async def collect(self) -> None:
        """Bring home the finished calls of every open batch, one list-calls sweep per batch,
        then expire the tasks of batches Retell stopped dialing."""
        self._refresh_open()
        open_ids = {batch.id for batch in self._open}
        self._applied_views = {
            batch_id: views
            for batch_id, views in self._applied_views.items()
            if batch_id in open_ids
        }
        news: list[tuple[int, Call, int]] = []
        swept: list[BatchSubmission] = []
        for batch in self._open:
            if batch.state in _NOT_SENT or batch.id is None:
                continue
            try:
                calls = await self._sweep(batch.id, batch.retell_batch_id)
            except RetellError as error:
                log.warning("batch %s sync failed, will retry: %s", batch.id, error)
                continue
            swept.append(batch)
            news.extend(self._unapplied(batch.id, calls))
        if news:
            self._sync.apply([call for _, call, _ in news])
            for batch_id, call, digest in news:
                self._applied_views.setdefault(batch_id, {})[call.call_id] = digest
            self._open_stale = True
        self._expire_undialed(swept)

    async def _sweep(self, batch_id: int, retell_batch_id: str | None) -> list[Call]:
        """Every finished call of a batch: by its Retell id, or by its metadata when the create
        answer was lost. No time filter: a call without `end_timestamp` matches none."""
        return await self._calls(
            call_filter(
                batch_call_id=retell_batch_id,
                metadata=None if retell_batch_id else self._batch_metadata(batch_id),
                call_statuses=FINISHED_CALL_STATUSES,
            )
        )

    def _unapplied(self, batch_id: int, calls: list[Call]) -> list[tuple[int, Call, int]]:
        """The calls whose view differs from the one last applied, with their view's digest: a
        sweep lists every finished call of the batch each time, and applying them all again
        would only rewrite the store."""
        applied = self._applied_views.get(batch_id, {})
        digests = ((call, _view_digest(call)) for call in calls)
        return [
            (batch_id, call, digest)
            for call, digest in digests
            if applied.get(call.call_id) != digest
        ]

    def _expire_undialed(self, batches_swept: list[BatchSubmission]) -> None:
        """Settle the tasks without a call of swept batches Retell has stopped dialing (see
        `_dialing_is_over`) as a blameless transient failure: their contacts are due again,
        uncounted."""
        now = self._clock.now()
        for batch in batches_swept:
            assert batch.id is not None
            if not self._dialing_is_over(batch, now):
                continue
            with transaction(self._engine) as session:
                expired = batches.expire_undialed(
                    session=session,
                    batch_id=batch.id,
                    detail="never dialed by Retell: its batch's window closed without a call",
                )
                settle_attempts(
                    session,
                    config=self._config,
                    attempts={
                        a.id: (a.contact_id, OutcomeClass.TRANSIENT_FAILURE)
                        for a in expired
                        if a.id is not None
                    },
                    now=now,
                    blameless=True,
                )
            if expired:
                log.warning("batch %s: %d task(s) never dialed, due again", batch.id, len(expired))
                self._open_stale = True

    def _dialing_is_over(self, batch: BatchSubmission, now: datetime) -> bool:
        """True when Retell had the batch for a whole opening of its window, dialed none of
        its tasks in it, and the window has been shut for `UNDIALED_TASK_GRACE` since. A window
        that never stays shut that long never expires.

        Dialing is judged by what the store says of the batch's calls (their start, end and
        analysis times: a run started after the window closed knows them too) and by the tasks
        this run saw settle (a call that never connected may come with no time at all)."""
        if not batch.call_time_window or batch.id is None:
            return False
        opening = last_closed_opening(batch.call_time_window, now)
        if opening is None:
            return False
        opened, closed = opening
        had_it = (batch.sent_at or now) <= opened and (batch.trigger_at or opened) <= opened
        if not had_it or now - closed < UNDIALED_TASK_GRACE:
            return False
        # Shut all along since: it has not opened again (a later span, the next day).
        if window_opens_by(batch.call_time_window, closed, now):
            return False
        with self._session() as session:
            dialed = batches.last_dialed_at(session=session, batch_id=batch.id)
        seen = self._moved_on.get(batch.id)
        return all(moment is None or moment <= opened for moment in (dialed, seen))

    def dialing(self, now: datetime) -> int:
        """How many open batches Retell may be dialing now or within `window_gap` (trigger
        passed, window open) and that still move: a batch with no call finished for
        `stalled_after` seconds of its window is not waited on."""
        self._refresh_open()
        now_mono = self._clock.monotonic()
        stalled = self._options.stalled_after
        dialing = 0
        for batch in self._open:
            if batch.state in _NOT_SENT or not self._dials_soon(batch, now):
                continue
            if not _may_dial_at(batch, now):
                # Its stall clock runs only while Retell may dial it: a batch that waited for its
                # trigger or window has not stalled when that opens.
                self._moved_at[batch.id or 0] = now_mono
            if now_mono - self._moved_at.get(batch.id or 0, now_mono) < stalled:
                dialing += 1
        return dialing

    def _dials_soon(self, batch: BatchSubmission, now: datetime) -> bool:
        until = now + self._options.window_gap
        start = max(now, batch.trigger_at or now)
        if start > until:
            return False
        return not batch.call_time_window or window_opens_by(batch.call_time_window, start, until)

    def results_applied(self) -> None:
        """Calls were settled (by a webhook, say): re-read which batches are still open."""
        self._open_stale = True

    def busy(self) -> bool:
        return self.dialing(self._clock.now()) > 0

    def unresolved(self) -> int:
        return len(self.ambiguous)

    def idle_reason(self) -> str | None:
        """Open batches (sent or maybe sent) with tasks not settled yet wait for their window."""
        self._refresh_open()
        if not self._open:
            return None
        return (
            f"nothing is due now; {len(self._open)} batches wait at Retell for their calling "
            "window (run again later to collect their results)"
        )

    async def close(self) -> None:
        """Nothing to give back: a batch's contacts are Retell's to dial once it is sent."""

    def _refresh_open(self) -> None:
        if not self._open_stale:
            return
        now_mono, now = self._clock.monotonic(), self._clock.now()
        with self._session() as session:
            self._open = batches.unfinished(session=session, campaign_id=self._campaign_id)
            finished = {
                row["batch_id"]: row["finished"]
                for row in batches.progress(session=session, campaign_id=self._campaign_id)
            }
        for batch in self._open:
            assert batch.id is not None
            seen_before = self._finished.get(batch.id)
            if finished.get(batch.id) != seen_before:
                self._finished[batch.id] = finished.get(batch.id, 0)
                self._moved_at[batch.id] = now_mono
                if seen_before is not None:
                    self._moved_on[batch.id] = now
        self._open_stale = False

    def _batch_metadata(self, batch_id: int) -> dict[str, str]:
        return {"campaign": self._config.name, "batch": str(batch_id)}

    async def _calls(self, criteria: dict[str, Any]) -> list[Call]:
        return [call async for call in self._client.iter_calls(filter_criteria=criteria)]


def _view_digest(call: Call) -> int:
    return hash(call.model_dump_json())


def _named_tasks(
    message: str, contacts: Sequence[Contact], tasks: Sequence[BatchCallTask]
) -> list[Contact]:
    """The tasks (as their contacts, in task order) a 400's message names: by index
    (`tasks[3].to_number: ...`), as Retell names a field of a request, or by their number. None
    when it names a field every task of the batch has the same value in: that is about the
    batch, not about one task."""
    named = _TASK_FIELD.findall(message)
    if len(tasks) > 1:
        for _, field in named:
            values = [getattr(task, field, None) for task in tasks]
            if field and all(value == values[0] for value in values):
                return []
    indexes = {int(index) for index, _ in named}
    numbers = set(_E164.findall(message))
    return [
        contact
        for index, contact in enumerate(contacts)
        if index in indexes or contact.phone_e164 in numbers
    ]
