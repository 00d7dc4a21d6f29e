"""Result sync: bring our calls' results home and settle their contacts.

The calls this run follows live in `ResultSync.live`. They are polled with one `list-calls` per
1,000 of them (filter: `call_id in [...]`, finished statuses), or pushed by webhooks; calls in
flight far longer than any call lasts are asked for one by one, and transcripts (which list-calls
leaves out) are fetched with `get-call` for connected calls when the campaign wants them. Every
view of a call goes through `apply_calls`; what a write settled is handed to `on_applied`, where the
runner keeps its counters, its budget and its circuit breaker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from campaigner.campaign import CampaignConfig, OutcomeClass
from campaigner.dialer.clock import Clock
from campaigner.dialer.results import apply_calls
from campaigner.dialer.webhook_inbox import WebhookInbox
from campaigner.retell import FINISHED_CALL_STATUSES, Call, RetellClient, RetellError, call_filter
from campaigner.store import Engine, results, transaction

__all__ = ["MAX_IDS_PER_LIST", "AppliedResults", "LiveCall", "ResultSync"]

log = logging.getLogger(__name__)

MAX_IDS_PER_LIST = 1000


@dataclass
class LiveCall:
    """A call this run follows until its outcome is known and, if it connected, its post-call
    analysis has come (or `analysis_timeout` has passed)."""

    attempt_id: int
    contact_id: int
    sent_at: float
    terminal_seen_at: datetime | None = None
    outcome_known: bool = False


@dataclass
class AppliedResults:
    """What one write of call views changed, for the runner's counters and breakers."""

    finished: int = 0
    cost_cents: float = 0.0
    settled: list[tuple[OutcomeClass, str | None]] = field(default_factory=list)
    want_transcripts: list[str] = field(default_factory=list)


class ResultSync:
    """Follows this run's calls and applies every view of them; see the module docstring."""

    def __init__(
        self,
        *,
        config: CampaignConfig,
        engine: Engine,
        client: RetellClient,
        clock: Clock,
        stuck_call_after: float,
        on_applied: Callable[[AppliedResults], None],
    ) -> None:
        self._config = config
        self._engine = engine
        self._client = client
        self._clock = clock
        self._stuck_call_after = stuck_call_after
        self._on_applied = on_applied
        self.live: dict[str, LiveCall] = {}
        self.pushed: list[Call] = []

    def follow(
        self, call_id: str, *, attempt_id: int, contact_id: int, outcome_known: bool = False
    ) -> None:
        """Follow a call until its outcome is known (and its analysis has come); a call whose
        outcome is already stored (`outcome_known`) is not counted as finished again."""
        self.live[call_id] = LiveCall(
            attempt_id, contact_id, self._clock.monotonic(), outcome_known=outcome_known
        )

    def frees_slot(self, call: Call) -> bool:
        """True for a view of a followed call that ended and was not yet seen ended."""
        live = self.live.get(call.call_id)
        return live is not None and live.terminal_seen_at is None and call.is_terminal

    def in_progress(self) -> int:
        """Our calls that hold a Retell slot: followed calls that have not ended yet."""
        return sum(1 for live in self.live.values() if live.terminal_seen_at is None)

    async def poll(self) -> None:
        """Poll our calls in progress (and those awaiting analysis), 1,000 ids per request."""
        self._let_go_of_late_analyses()
        ids = list(self.live)
        for start in range(0, len(ids), MAX_IDS_PER_LIST):
            chunk = ids[start : start + MAX_IDS_PER_LIST]
            try:
                page = await self._client.list_calls(
                    filter_criteria=call_filter(
                        call_ids=chunk, call_statuses=FINISHED_CALL_STATUSES
                    ),
                    limit=MAX_IDS_PER_LIST,
                )
            except RetellError as error:
                log.warning("result sync failed, will retry: %s", error)
                return
            self.apply(page.items)
        await self._check_stuck_calls()

    def take_pushed(self, webhooks: WebhookInbox) -> None:
        """Take what webhooks delivered (only this campaign's calls). A call that ended frees its
        slot at once; the store hears of it at the next `apply_pushed`, in one write."""
        now = self._clock.now()
        for call in webhooks.drain():
            if call.metadata_value("campaign") == self._config.name:
                self._note_terminal(call, now)
                self.pushed.append(call)

    def apply_pushed(self) -> None:
        """Apply the calls taken from webhooks since the last time."""
        if self.pushed:
            calls, self.pushed = self.pushed, []
            self.apply(calls)

    def _let_go_of_late_analyses(self) -> None:
        """Stop following calls whose outcome is stored once `analysis_timeout` has passed since
        their end, without waiting for a view of them: Retell may be unreachable for longer."""
        now = self._clock.now()
        for call_id, live in list(self.live.items()):
            seen = live.terminal_seen_at
            if live.outcome_known and seen and now - seen >= self._config.analysis_timeout:
                del self.live[call_id]

    def _note_terminal(self, call: Call, now: datetime) -> None:
        live = self.live.get(call.call_id)
        if live is not None and call.is_terminal and live.terminal_seen_at is None:
            # From the call's end, not from when this run first saw it: a call a killed run
            # left is not waited on for another `analysis_timeout` the next day.
            live.terminal_seen_at = min(call.ended_at or now, now)

    def apply(self, calls: list[Call]) -> None:
        """Record these views of calls in one transaction, then hand `on_applied` what changed."""
        now = self._clock.now()
        changed = AppliedResults()
        timed_out: list[str] = []
        for call in calls:
            self._note_terminal(call, now)
            live = self.live.get(call.call_id)
            # A call nobody follows (a batch task) waits for its analysis from its end.
            seen = live.terminal_seen_at if live is not None else call.ended_at
            if seen is not None and now - seen >= self._config.analysis_timeout:
                timed_out.append(call.call_id)
        with transaction(self._engine) as session:
            applied_calls = apply_calls(
                session, config=self._config, calls=calls, now=now, analysis_timed_out=timed_out
            )
            for call, applied in zip(calls, applied_calls, strict=True):
                if applied is None or applied.outcome is None:
                    continue
                live = self.live.get(call.call_id)
                if (live is not None and not live.outcome_known) or (
                    live is None and applied.settled_now
                ):
                    changed.finished += 1
                if live is not None:
                    live.outcome_known = True
                    if not _awaits_analysis(call, timed_out):
                        del self.live[call.call_id]
                elif not applied.analysed_before and _awaits_analysis(call, timed_out):
                    self.follow_for_analysis(
                        call.call_id,
                        attempt_id=applied.attempt_id,
                        contact_id=applied.contact_id,
                        ended_at=call.ended_at,
                    )
                if applied.settled_now:
                    changed.cost_cents += applied.cost_cents
                    changed.settled.append((applied.outcome, call.disconnection_reason))
                    if self._config.fetch_transcripts and call.call_status == "ended":
                        changed.want_transcripts.append(call.call_id)
        # After the commit: a pause writes in its own transaction, which SQLite would block
        # behind this one.
        self._on_applied(changed)

    def follow_for_analysis(
        self, call_id: str, *, attempt_id: int, contact_id: int, ended_at: datetime | None
    ) -> None:
        """Follow a call whose outcome is stored, from its end until its analysis comes (or
        `analysis_timeout` has passed since `ended_at`, Retell's end): a batch task, or a call a
        previous run settled and stopped before its analysis came."""
        now = self._clock.now()
        self.live[call_id] = LiveCall(
            attempt_id,
            contact_id,
            self._clock.monotonic(),
            # Retell's clock, but never later than ours: a clock behind Retell's would
            # otherwise wait longer than `analysis_timeout`.
            terminal_seen_at=min(ended_at or now, now),
            outcome_known=True,
        )

    async def fetch_transcripts(self, call_ids: list[str]) -> None:
        """list-calls leaves transcripts out: fetch them with get-call, for connected calls only."""
        for call_id in call_ids:
            try:
                call = await self._client.get_call(call_id)
            except RetellError as error:
                log.warning("could not fetch the transcript of %s: %s", call_id, error)
                continue
            with transaction(self._engine) as session:
                results.record_call_results(
                    session=session,
                    views=[(call.model_dump(mode="json", exclude_none=True), None)],
                    now=self._clock.now(),
                )

    async def _check_stuck_calls(self) -> None:
        """Ask for calls that have been in flight far longer than any call lasts, one by one."""
        now = self._clock.monotonic()
        # A call whose end was seen is not stuck: it waits for its analysis until the timeout.
        stuck = [
            call_id
            for call_id, live in self.live.items()
            if live.terminal_seen_at is None and now - live.sent_at > self._stuck_call_after
        ]
        for call_id in stuck:
            try:
                call = await self._client.get_call(call_id)
            except RetellError as error:
                log.warning("could not look up stuck call %s: %s", call_id, error)
                continue
            self.live[call_id].sent_at = now
            self.apply([call])


def _awaits_analysis(call: Call, timed_out: list[str]) -> bool:
    """A connected call whose analysis (summary, sentiment, custom data) has not come yet: it is
    followed on, even when its outcome is already known (a voicemail, a callback request), so
    a run does not end without it."""
    return (
        call.call_status == "ended" and call.call_analysis is None and call.call_id not in timed_out
    )
