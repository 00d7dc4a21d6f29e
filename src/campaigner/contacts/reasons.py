"""Why an input row was not accepted: one code per cause, written in the rejected-rows file."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RejectReason"]


class RejectReason(StrEnum):
    """Reason codes of rejected rows, in the order ingest checks them."""

    MISSING_NUMBER = "missing_number"
    """The phone cell is empty."""
    UNPARSEABLE = "unparseable"
    """The phone cell is not a phone number (letters, no digits, unknown calling code)."""
    INVALID_NUMBER = "invalid_number"
    """A phone number that cannot exist: wrong length, unassigned range (detail says which)."""
    COUNTRY_NOT_ALLOWED = "country_not_allowed"
    """The number's country is not in the campaign's `numbers.allowed_countries`."""
    NOT_MOBILE = "not_mobile"
    """The campaign is `mobile_only` and the number is not (or may not be) a mobile."""
    INVALID_TIMEZONE = "invalid_timezone"
    """The explicit time zone cell is not an IANA zone name."""
    UNKNOWN_TIMEZONE = "unknown_timezone"
    """No time zone cell and no zone can be derived from the number (e.g. satellite numbers)."""
    DUPLICATE_IN_FILE = "duplicate_in_file"
    """The same number appeared on an earlier row of the same file (the first one is kept)."""
    DUPLICATE_IN_CAMPAIGN = "duplicate_in_campaign"
    """The number is already a contact of this campaign (from an earlier file)."""
    SUPPRESSED = "suppressed"
    """The number is on the do-not-call list."""
