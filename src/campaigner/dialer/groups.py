"""Callable groups: contacts the dialer treats alike for *when* they may be called.

A group is what a claim selects by and what the calling window is checked against: today a
contact's set of candidate timezones (the store's `Contact.timezone_key`), in every one of which
the window must be open. Each question of the form "may this be called now?" or "when next?"
goes through a group, so that a rule that adds to the group (a state's calling hours, say)
changes this module and the store's key, not the dialer's modes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from campaigner.campaign import CallWindow
from campaigner.dialer.clock import Clock
from campaigner.dialer.windows import earliest_callable_at, is_callable_at, next_callable_at
from campaigner.store import Contact, Session, claims

__all__ = ["CallableGroup", "CampaignGroups", "claim_filter", "next_callable_time", "read_groups"]


@dataclass(frozen=True, order=True)
class CallableGroup:
    """Contacts whose calls the same window allows at the same instants."""

    zones: tuple[str, ...]

    @classmethod
    def of(cls, contact: Contact) -> CallableGroup:
        return cls(tuple(contact.timezones))

    def callable_at(self, window: CallWindow, moment: datetime) -> bool:
        """A call may start at `moment` (the window is open in every candidate zone)."""
        return is_callable_at(window, self.zones, moment)

    def next_callable_at(self, window: CallWindow, now: datetime) -> datetime | None:
        """The first instant from `now` when a call may start (None: not within three weeks)."""
        return next_callable_at(window, self.zones, now)


def claim_filter(groups: Iterable[CallableGroup]) -> list[tuple[str, ...]]:
    """What `claims.claim_due(timezones=...)` and `claims.count_due` select these groups by."""
    return [group.zones for group in groups]


class CampaignGroups:
    """The groups of a campaign's contacts that may still be dialed, re-read from the store at
    most every `refresh_every` seconds (new contacts bring new groups only with an import)."""

    def __init__(self, *, window: CallWindow, clock: Clock, refresh_every: float) -> None:
        self._window = window
        self._clock = clock
        self._refresh_every = refresh_every
        self._groups: list[CallableGroup] = []
        self._read_at = float("-inf")

    def open_at(self, session: Session, campaign_id: int, now: datetime) -> list[CallableGroup]:
        """The campaign's groups whose calls may start at `now`."""
        read_at = self._clock.monotonic()
        if read_at - self._read_at >= self._refresh_every:
            self._groups = read_groups(session, campaign_id)
            self._read_at = read_at
        return [group for group in self._groups if group.callable_at(self._window, now)]


def read_groups(session: Session, campaign_id: int) -> list[CallableGroup]:
    """The groups of the campaign's contacts that may still be dialed."""
    return [
        CallableGroup(zones) for zones in claims.zone_sets(session=session, campaign_id=campaign_id)
    ]


def next_callable_time(
    session: Session, *, window: CallWindow, campaign_id: int, now: datetime
) -> datetime | None:
    """When the campaign's next contact may be called: its next due time, moved to the first
    instant the window allows a call for a group with contacts left (None: no contact left, or
    none callable within three weeks)."""
    next_due = claims.next_due_time(session=session, campaign_id=campaign_id)
    if next_due is None:
        return None
    groups = read_groups(session, campaign_id)
    return earliest_callable_at(window, claim_filter(groups), max(now, next_due))
