"""What Retell refusing a create means, the same for a direct create and for a batch.

A refusal places no call. Account and configuration refusals stop the campaign. A 400 is about
the contact only when it says so — it names `to_number` or the number itself, or Retell's
do-not-call list refused the number — and then, for one call, its contact ends with a final
outcome (a do-not-call refusal suppresses the number everywhere once the attempt is settled, see
`results.settle_attempts`). Any other 400 is the campaign's setup (a caller ID not in the
workspace or without an outbound agent, a destination country the workspace cannot call: Retell
names no field for these) and pauses the campaign like a configuration refusal.
"""

from __future__ import annotations

import re

from campaigner.campaign import OutcomeClass
from campaigner.retell import (
    AuthenticationFailed,
    BadRequest,
    NotFound,
    PaymentRequired,
    PermissionDenied,
    UnprocessableEntity,
)

__all__ = ["ACCOUNT_ERRORS", "CONFIG_ERRORS", "refusal_concerns_contact", "refused_call_outcome"]

ACCOUNT_ERRORS = (AuthenticationFailed, PaymentRequired, PermissionDenied)
"""Retell refused the account: nothing can be dialed until someone fixes it."""
CONFIG_ERRORS = (NotFound, UnprocessableEntity)
"""Retell does not know the campaign's agent or number: every call would be refused alike."""

# A 400 whose message says this is Retell refusing a number on its internal do-not-call list
# (written "do-not-call", "do_not_call" or "do not call").
_DNC_REFUSAL = re.compile(r"do[\s_-]not[\s_-]call", re.IGNORECASE)


def refused_call_outcome(error: BadRequest) -> OutcomeClass:
    """The final outcome of a contact whose one call Retell refused with a 400: a refusal by
    Retell's do-not-call list is a DNC request, anything else a permanent failure."""
    if _DNC_REFUSAL.search(error.message) is not None:
        return OutcomeClass.DNC_REQUEST
    return OutcomeClass.PERMANENT_FAILURE


def refusal_concerns_contact(error: BadRequest, to_number: str) -> bool:
    """True when a 400 refusing a call to `to_number` is about that number (see the module
    docstring); False when it is about the campaign's setup."""
    message = error.message
    if _DNC_REFUSAL.search(message) is not None or "to_number" in message:
        return True
    digits = re.sub(r"\D", "", message)
    return to_number.lstrip("+") in digits
