"""Retell-shaped errors and JSON responses.

Every error the simulator returns has Retell's body ``{"status":"error","message":str}``. Handlers
raise `ApiError`; the request gate turns it into a response.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

__all__ = [
    "MESSAGE_BAD_FORMAT",
    "MESSAGE_NOT_FOUND",
    "MESSAGE_NO_ROUTE",
    "MESSAGE_RATE_LIMITED",
    "MESSAGE_SERVER_ERROR",
    "MESSAGE_UNAUTHORIZED",
    "ApiError",
    "describe_validation_error",
    "error_response",
    "json_response",
    "not_found",
    "validate_body",
]

MESSAGE_BAD_FORMAT = "Invalid request format, please check API reference."
MESSAGE_UNAUTHORIZED = "API key is missing or invalid."
MESSAGE_NOT_FOUND = "Cannot find requested asset under given api key."
MESSAGE_RATE_LIMITED = "Account rate limited, please throttle your requests."
MESSAGE_SERVER_ERROR = "An unexpected server error occurred."
MESSAGE_NO_ROUTE = "The requested resource was not found."

ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiError(Exception):
    """An error answer: HTTP status, Retell's message, and optional extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.headers = headers or {}

    def response(self) -> Response:
        """The error as an HTTP response."""
        return error_response(self.status, self.message, self.headers)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response (orjson keeps the hot path cheap)."""
    return Response(orjson.dumps(data), status, headers, media_type="application/json")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Retell's error body with ``status``."""
    return json_response({"status": "error", "message": message}, status, headers)


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """The first problem in ``error`` as ``field.path: what is wrong`` (e.g. ``to_number: field
    required``)."""
    first = error.errors(include_url=False)[0]
    path = prefix
    for part in first["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    message = first["msg"]
    message = message[:1].lower() + message[1:]
    return f"{path}: {message}" if path else message


def validate_body(model: type[ModelT], raw: Any, prefix: str = "") -> ModelT:
    """Validate ``raw`` into ``model`` or raise a 400 naming the first bad field."""
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise ApiError(400, describe_validation_error(error, prefix)) from None


def not_found(status: int) -> ApiError:
    """Retell's answer for an unknown id: 422 as documented, or 404 when so configured."""
    return ApiError(status, MESSAGE_NOT_FOUND if status == 422 else MESSAGE_NO_ROUTE)
