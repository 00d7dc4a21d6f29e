"""Errors the store raises on purpose, and the database's own errors, named for callers.

StoreError
├── CampaignNotFound      no campaign with that name
├── StatusChangeError     a status change the campaign's lifecycle does not allow
├── StoreMissing          a command that only reads found no SQLite file where the URL points
├── StoreUnreachable      the database could not be connected to (server down, wrong URL)
└── LeaseLost             a contact's lease passed to another worker before it was dialed

Errors of the database and its driver pass through unchanged; callers catch them by the names
below (SQLAlchemy's classes), so that nothing but the store imports SQLAlchemy:

DatabaseError             any of them
├── IntegrityError        a constraint refused a write (another process wrote the row first)
└── OperationalError      the database could not do it now (connection lost, server gone)
"""

from __future__ import annotations

import sqlalchemy.exc

from campaigner.errors import CampaignerError

__all__ = [
    "CampaignNotFound",
    "DatabaseError",
    "IntegrityError",
    "LeaseLost",
    "OperationalError",
    "StatusChangeError",
    "StoreError",
    "StoreMissing",
    "StoreUnreachable",
]

DatabaseError = sqlalchemy.exc.SQLAlchemyError
IntegrityError = sqlalchemy.exc.IntegrityError
OperationalError = sqlalchemy.exc.OperationalError


class StoreError(CampaignerError):
    """Base of the store's own errors; the message says what is wrong."""


class CampaignNotFound(StoreError, LookupError):
    """No campaign has the given name."""


class StatusChangeError(StoreError):
    """A campaign cannot move from its status to the requested one (e.g. resume a cancelled one)."""


class LeaseLost(StoreError):
    """The contact is no longer leased by this worker: another one claimed it and will dial it."""


class StoreMissing(StoreError):
    """A command that does not create the store found no SQLite file at the configured path."""


class StoreUnreachable(StoreError):
    """The store could not be connected to; the message names it (password starred out)."""
