"""The model refuses a request the way Finesse does: an HTTP status and an ApiError."""

from __future__ import annotations

from connector.finesse.models import ApiError, ApiErrorException


def finesse_error(status: int, error_type: str, message: str, data: str = "") -> ApiErrorException:
    return ApiErrorException(status, ApiError(error_type, message, data))
