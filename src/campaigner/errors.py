"""`CampaignerError`, the root of every error campaigner raises on purpose.

Each package keeps its own errors (`CampaignFileError`, `ContactFileError`, `IngestConflict`,
`StoreError`, `RetellError`, `ReportError`, `SettingsError`, `PreflightFailed`, `ServeError`);
all of them derive from this one, so a command catches one class and prints its message on one
line. Anything else that reaches a command is a bug, reported with its traceback in a file.
"""

from __future__ import annotations

__all__ = ["CampaignerError"]


class CampaignerError(Exception):
    """An error campaigner raises on purpose; its message says what is wrong in words a user
    can act on, and never contains the API key."""
