"""Every error the Retell client raises.

```
RetellError                       base: catch this to handle anything from the client
├── TransportError                the request failed on the network and was not answered
├── AmbiguousCreate               a create whose outcome is unknown: the call (or batch) may exist;
│                                 reconcile (idempotency-key replay, list-calls by metadata) before
│                                 creating again
├── ResponseFormatError           Retell answered 2xx with a body the client cannot read
└── RetellAPIError                Retell answered with an error status (.status_code, .message)
    ├── BadRequest                400: invalid input (including honor_internal_dnc rejections)
    ├── AuthenticationFailed      401: missing or invalid API key
    ├── PaymentRequired           402: billing problem; stop dialing
    ├── PermissionDenied          403
    ├── NotFound                  404, or 422 "Cannot find requested asset" (Retell's not-found)
    ├── Conflict                  409
    ├── UnprocessableEntity       422 for anything else
    ├── RateLimited               429 (.retry_after in seconds when Retell sent one)
    └── ServerError               5xx
```

No error message or repr ever contains the API key: messages are built from the status, Retell's
`message` field and the request path only.
"""

from __future__ import annotations

from campaigner.errors import CampaignerError

__all__ = [
    "AmbiguousCreate",
    "AuthenticationFailed",
    "BadRequest",
    "Conflict",
    "NotFound",
    "PaymentRequired",
    "PermissionDenied",
    "RateLimited",
    "ResponseFormatError",
    "RetellAPIError",
    "RetellError",
    "ServerError",
    "TransportError",
    "UnprocessableEntity",
    "api_error_for_status",
]


class RetellError(CampaignerError):
    """Base class of every error raised by `campaigner.retell`."""


class TransportError(RetellError):
    """The request could not be completed on the network (connect, timeout, reset)."""


class ResponseFormatError(RetellError):
    """Retell answered with a success status but a body that does not parse."""


class AmbiguousCreate(RetellError):
    """A create request may or may not have taken effect.

    Raised for a timeout or a dropped connection after the request was sent, and for a 5xx answer
    to a create. The caller must reconcile before creating again: replay with the same
    `idempotency_key` (phone calls, within Retell's one-hour window) or look the call up by its
    `metadata` through list-calls.
    """

    def __init__(self, message: str, *, idempotency_key: str | None = None) -> None:
        super().__init__(message)
        self.idempotency_key = idempotency_key


class RetellAPIError(RetellError):
    """Retell answered with an error status code."""

    def __init__(self, status_code: int, message: str, *, path: str = "") -> None:
        self.status_code = status_code
        self.message = message
        self.path = path
        where = f" on {path}" if path else ""
        super().__init__(f"Retell answered {status_code}{where}: {message}")


class BadRequest(RetellAPIError):
    """400: the request was invalid."""


class AuthenticationFailed(RetellAPIError):
    """401: the API key is missing or invalid."""


class PaymentRequired(RetellAPIError):
    """402: the workspace cannot be billed; calls will not be placed."""


class PermissionDenied(RetellAPIError):
    """403: the key may not do this."""


class NotFound(RetellAPIError):
    """The asset does not exist (Retell documents 422 for this; 404 on newer endpoints)."""


class Conflict(RetellAPIError):
    """409."""


class UnprocessableEntity(RetellAPIError):
    """422 for anything other than a missing asset."""


class RateLimited(RetellAPIError):
    """429: throttle. `retry_after` (seconds) is set when Retell said how long to wait."""

    def __init__(
        self, status_code: int, message: str, *, path: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(status_code, message, path=path)
        self.retry_after = retry_after


class ServerError(RetellAPIError):
    """5xx: Retell failed; reads are retried, creates become `AmbiguousCreate`."""


_NOT_FOUND_MARKER = "cannot find"

_BY_STATUS: dict[int, type[RetellAPIError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    402: PaymentRequired,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
}


def api_error_for_status(
    status_code: int, message: str, *, path: str = "", retry_after: float | None = None
) -> RetellAPIError:
    """The exception that stands for an error answer from Retell."""
    if status_code == 429:
        return RateLimited(status_code, message, path=path, retry_after=retry_after)
    if status_code == 422:
        if _NOT_FOUND_MARKER in message.lower():
            return NotFound(status_code, message, path=path)
        return UnprocessableEntity(status_code, message, path=path)
    if status_code >= 500:
        return ServerError(status_code, message, path=path)
    return _BY_STATUS.get(status_code, RetellAPIError)(status_code, message, path=path)
