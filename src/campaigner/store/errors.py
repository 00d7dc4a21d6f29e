"""Errors the store raises on purpose (database driver errors pass through unchanged).

StoreError
├── CampaignNotFound      no campaign with that name
├── StatusChangeError     a status change the campaign's lifecycle does not allow
└── LeaseLost             a contact's lease passed to another worker before it was dialed
"""

from __future__ import annotations

__all__ = ["CampaignNotFound", "LeaseLost", "StatusChangeError", "StoreError"]


class StoreError(Exception):
    """Base of the store's own errors; the message says what is wrong."""


class CampaignNotFound(StoreError, LookupError):
    """No campaign has the given name."""


class StatusChangeError(StoreError):
    """A campaign cannot move from its status to the requested one (e.g. resume a cancelled one)."""


class LeaseLost(StoreError):
    """The contact is no longer leased by this worker: another one claimed it and will dial it."""
