"""The model refuses a request the way Finesse does: an HTTP status and an ApiError."""

from __future__ import annotations

from connector.finesse.models import ApiError, ApiErrorException


def finesse_error(status: int, error_type: str, message: str, data: str = "") -> ApiErrorException:
    return ApiErrorException(status, ApiError(error_type, message, data))


def require(value: object, name: str, message: str = "") -> None:
    """Finesse's 400 Parameter Missing for an absent or empty request field."""
    if not value:
        raise finesse_error(400, "Parameter Missing", message or f"{name} is required", name)
