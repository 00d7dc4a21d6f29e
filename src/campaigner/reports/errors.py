"""Errors a report raises on purpose.

ReportError
└── UnknownCampaign       no campaign with that name (also a `campaigner.store.CampaignNotFound`)
"""

from __future__ import annotations

from campaigner.errors import CampaignerError
from campaigner.store import CampaignNotFound

__all__ = ["ReportError", "UnknownCampaign"]


class ReportError(CampaignerError):
    """Base of the reports' own errors; the message says what is wrong."""


class UnknownCampaign(ReportError, CampaignNotFound):
    """The store has no campaign with the given name."""
