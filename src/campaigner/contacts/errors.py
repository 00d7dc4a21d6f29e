"""The one error contact files raise.

    ContactFileError        the file cannot be used at all: unreadable, empty, header only,
                            unknown format, a mapped column missing or ambiguous

Row-level problems are never exceptions: each bad row is rejected with a `RejectReason` and the
rest of the file is accepted.
"""

from __future__ import annotations

from campaigner.errors import CampaignerError

__all__ = ["ContactFileError"]


class ContactFileError(CampaignerError):
    """A contacts (or do-not-call) file cannot be used; the message says why in one line."""
