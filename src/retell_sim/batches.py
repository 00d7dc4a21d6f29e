"""Batch calls: validation, calling windows, and server-side dispatch.

A batch waits for its trigger time, then dials its tasks one by one as ordinary outbound calls:
only while its ``call_time_window`` is open (local time in the window's IANA zone, on the listed
days; tasks left when a window closes wait for the next one), only while a slot is free with
``reserved_concurrency`` slots still left over, and no faster than the workspace's CPS allows.
The batch's reservation adds to the workspace's reserved inbound slots (a documented choice:
retell-api.md §13 leaves their interplay open).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from retell_sim.clock import VirtualClock
from retell_sim.errors import ApiError
from retell_sim.limits import ConcurrencyPool, DialPacer
from retell_sim.scheduler import Scheduler

__all__ = [
    "BatchBody",
    "BatchCallWindow",
    "BatchRunner",
    "SimulatedBatch",
    "TaskBody",
    "TimeWindowBody",
]

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DayName = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
DEFAULT_TIMEZONE = "America/Los_Angeles"


class TaskBody(BaseModel):
    """One task of a batch."""

    model_config = ConfigDict(extra="ignore")

    to_number: str
    retell_llm_dynamic_variables: dict[str, Any] | None = None
    metadata: Any = None
    override_agent_id: str | None = None
    override_agent_version: int | str | None = None
    agent_override: dict[str, Any] | None = None
    custom_sip_headers: dict[str, str] | None = None
    ignore_e164_validation: bool = False


class WindowBody(BaseModel):
    """A half-open [start, end) span in minutes since local midnight."""

    model_config = ConfigDict(extra="forbid")

    start: float = Field(ge=0, le=1440)
    end: float = Field(ge=0, le=1440)

    @model_validator(mode="after")
    def _start_before_end(self) -> WindowBody:
        if self.start >= self.end:
            raise ValueError(f"start ({self.start:g}) must be before end ({self.end:g})")
        return self


class TimeWindowBody(BaseModel):
    """A batch's call_time_window."""

    model_config = ConfigDict(extra="forbid")

    windows: list[WindowBody] = Field(min_length=1)
    timezone: str = DEFAULT_TIMEZONE
    day: list[DayName] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r}") from None
        return value


class BatchBody(BaseModel):
    """POST /create-batch-call body."""

    model_config = ConfigDict(extra="ignore")

    from_number: str
    tasks: list[TaskBody] = Field(min_length=1)
    name: str | None = None
    trigger_timestamp: float | None = Field(None, ge=0)
    reserved_concurrency: int = Field(0, ge=0)
    call_time_window: TimeWindowBody | None = None


class BatchCallWindow:
    """When a batch may dial: spans of local minutes on some weekdays in one zone."""

    def __init__(self, body: TimeWindowBody) -> None:
        self.zone = ZoneInfo(body.timezone)
        self.timezone = body.timezone
        self.spans = sorted((window.start, window.end) for window in body.windows)
        self.days = sorted({DAY_NAMES.index(day) for day in body.day}) if body.day else None

    def canonical(self) -> dict[str, Any]:
        """The window as the batch response reports it (sorted spans, zone, ordered days)."""
        out: dict[str, Any] = {
            "windows": [{"start": start, "end": end} for start, end in self.spans],
            "timezone": self.timezone,
        }
        if self.days is not None:
            out["day"] = [DAY_NAMES[index] for index in self.days]
        return out

    def is_open(self, epoch_ms: int) -> bool:
        """True when ``epoch_ms`` falls inside the window."""
        local = datetime.fromtimestamp(epoch_ms / 1000, self.zone)
        if self.days is not None and local.weekday() not in self.days:
            return False
        minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        return any(start <= minute < end for start, end in self.spans)

    def next_open(self, epoch_ms: int) -> int:
        """The first epoch ms after ``epoch_ms`` at which the window opens."""
        local_date = datetime.fromtimestamp(epoch_ms / 1000, self.zone).date()
        for offset in range(8):
            day = local_date + timedelta(days=offset)
            if self.days is not None and day.weekday() not in self.days:
                continue
            midnight = datetime.combine(day, time(), tzinfo=self.zone)
            for start, _ in self.spans:
                opening = math.ceil((midnight + timedelta(minutes=start)).timestamp() * 1000)
                if opening > epoch_ms and self.is_open(opening):
                    return opening
        raise RuntimeError("a call window never opens within a week")


@dataclass(eq=False)
class SimulatedBatch:
    """A submitted batch and its progress."""

    batch_call_id: str
    name: str
    from_number: str
    scheduled_ms: int
    reserved_concurrency: int
    window: BatchCallWindow | None
    tasks: deque[TaskBody]
    total: int
    state: str = "scheduled"
    dispatched: int = 0
    failed: list[str] = field(default_factory=list)
    cancelled: bool = False
    tick_token: int = 0
    tick_due: int | None = None

    def response(self) -> dict[str, Any]:
        """The create-batch-call response body."""
        out: dict[str, Any] = {
            "batch_call_id": self.batch_call_id,
            "name": self.name,
            "from_number": self.from_number,
            "scheduled_timestamp": self.scheduled_ms,
            "total_task_count": self.total,
        }
        if self.window is not None:
            out["call_time_window"] = self.window.canonical()
        return out


PlaceCall = Callable[[SimulatedBatch, TaskBody, int], None]


class BatchRunner:
    """Dispatches the tasks of every batch, driven by the scheduler."""

    def __init__(
        self,
        *,
        clock: VirtualClock,
        scheduler: Scheduler,
        pool: ConcurrencyPool,
        pacer: DialPacer,
        place: PlaceCall,
    ) -> None:
        self._clock = clock
        self._scheduler = scheduler
        self._pool = pool
        self._pacer = pacer
        self._place = place
        self.batches: dict[str, SimulatedBatch] = {}
        self._waiting_for_slot: dict[str, SimulatedBatch] = {}

    def submit(self, batch: SimulatedBatch) -> None:
        """Accept a batch; it starts at its scheduled time."""
        self.batches[batch.batch_call_id] = batch
        self._wake(batch, max(batch.scheduled_ms, self._clock.now_ms()))

    def slot_freed(self) -> None:
        """A concurrency slot came free: batches waiting for one try again now."""
        waiting, self._waiting_for_slot = self._waiting_for_slot, {}
        now = self._clock.now_ms()
        for batch in waiting.values():
            self._wake(batch, now)

    def clear(self) -> None:
        """Cancel and forget every batch."""
        for batch in self.batches.values():
            batch.cancelled = True
        self.batches.clear()
        self._waiting_for_slot.clear()

    def _wake(self, batch: SimulatedBatch, due_ms: int) -> None:
        if batch.tick_due is not None and batch.tick_due <= due_ms:
            return
        batch.tick_token += 1
        batch.tick_due = due_ms
        token = batch.tick_token

        def tick() -> None:
            if batch.tick_token == token and not batch.cancelled:
                batch.tick_due = None
                self._dispatch(batch)

        self._scheduler.at(due_ms, tick)

    def _dispatch(self, batch: SimulatedBatch) -> None:
        while batch.tasks:
            now = self._clock.now_ms()
            if batch.window is not None and not batch.window.is_open(now):
                batch.state = "waiting_for_window"
                self._wake(batch, batch.window.next_open(now))
                return
            if not self._pool.has_room(keep_free=batch.reserved_concurrency):
                batch.state = "waiting_for_slot"
                self._waiting_for_slot[batch.batch_call_id] = batch
                return
            wait = self._pacer.wait_ms(now)
            if wait > 0:
                batch.state = "dispatching"
                self._wake(batch, now + math.ceil(wait))
                return
            task = batch.tasks.popleft()
            batch.state = "dispatching"
            try:
                self._place(batch, task, self._pacer.take(now))
            except ApiError as error:
                batch.failed.append(f"{task.to_number}: {error.message}")
            else:
                batch.dispatched += 1
        batch.state = "dispatched"
