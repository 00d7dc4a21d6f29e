"""Errors a report raises on purpose.

ReportError
└── UnknownCampaign       no campaign with that name (also a `campaigner.store.CampaignNotFound`)
"""

from __future__ import annotations

from campaigner.store import CampaignNotFound

__all__ = ["ReportError", "UnknownCampaign"]


class ReportError(Exception):
    """Base of the reports' own errors; the message says what is wrong."""


class UnknownCampaign(ReportError, CampaignNotFound):
    """The store has no campaign with the given name."""
