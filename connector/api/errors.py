"""Errors on the wire: every refusal as `{"error": {"type", "message", "field"?}}`.

The one place a `Refusal` becomes an HTTP status. Where Finesse refused, its ErrorType and
HTTP status pass through (e.g. 400 "Invalid State"); an error of our own never shows a
traceback, only a line in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from connector.errors import AgentError, Refusal
from connector.finesse.errors import (
    FinesseApiError,
    FinesseConnectionError,
    FinesseError,
    FinesseTimeout,
)
from connector.metrics import Metrics
from connector.service.throttle import retry_seconds

log = logging.getLogger("connector.api")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
MAX_BODY: web.AppKey[int] = web.AppKey("max_body")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATUS: dict[Refusal, int] = {
    Refusal.INVALID_JSON: 400,
    Refusal.MALFORMED_REQUEST: 400,
    Refusal.UNKNOWN_FIELD: 400,
    Refusal.MISSING_FIELD: 400,
    Refusal.INVALID_FIELD: 400,
    Refusal.ENDPOINT_NOT_ALLOWED: 400,
    Refusal.UNAUTHORIZED: 401,
    Refusal.TOKEN_EXPIRED: 401,
    Refusal.WRONG_CREDENTIALS: 401,
    Refusal.CALL_CONTROL_UNAVAILABLE: 403,
    Refusal.NOT_FOUND: 404,
    Refusal.METHOD_NOT_ALLOWED: 405,
    Refusal.ACTION_NOT_ALLOWED: 409,
    Refusal.LOGIN_INCOMPLETE: 409,
    Refusal.ALREADY_SIGNED_IN: 409,
    Refusal.BODY_TOO_LARGE: 413,
    Refusal.UPGRADE_REQUIRED: 426,
    Refusal.TOO_MANY_ATTEMPTS: 429,
    Refusal.INTERNAL_ERROR: 500,
    Refusal.FINESSE_UNREACHABLE: 502,
    Refusal.FINESSE_ERROR: 502,
    Refusal.TOO_MANY_SESSIONS: 503,
    Refusal.STATE_UNAVAILABLE: 503,
    Refusal.LOGIN_TIMEOUT: 504,
    Refusal.FINESSE_TIMEOUT: 504,
}


def error_response(status: int, type_: str, message: str, field: str | None = None) -> web.Response:
    error: dict[str, str] = {"type": type_, "message": message}
    if field:
        error["field"] = field
    return web.json_response({"error": error}, status=status)


def refused(kind: Refusal, message: str, field: str | None = None) -> web.Response:
    return error_response(STATUS[kind], kind.value, message, field)


# Finesse's ErrorTypes in plain words: (message, the request field it is about). `{data}` is
# Finesse's ErrorData (e.g. the extension); Finesse's own code stays in `finesse`.
FINESSE_WORDS: dict[str, tuple[str, str | None]] = {
    "Invalid Device": ("extension {data} is not a device Finesse knows", "extension"),
    "Device Busy": ("extension {data} is in use by another agent", "extension"),
    "Invalid State": ("Finesse does not allow that in the agent's current state", None),
    "Invalid Destination": ("Finesse cannot call that number", "toAddress"),
    "Authorization Failure": ("wrong agent id or password", None),
    "Not Found": ("Finesse has no such object", None),
    "Service Unavailable": ("Finesse is out of service for now; try again shortly", None),
}


def finesse_refused(exc: FinesseApiError) -> web.Response:
    """A refusal by Finesse: its HTTP status and ErrorType pass through; the message is
    said in plain words, `field` names the request field when one is meant (never a
    value), and Finesse's own ErrorType/ErrorMessage/ErrorData are kept under `finesse`."""
    data = exc.error_data or ""
    words, field = FINESSE_WORDS.get(exc.error_type, ("", None))
    if not words:
        words = exc.error_message or exc.error_type
        # ErrorData names the parameter for Parameter Missing / Invalid Input, and is a
        # value elsewhere (an extension, a code): only a name is a field.
        field = data if data.isidentifier() else None
    elif exc.error_type == "Invalid State" and data.isidentifier():
        field = data
    error: dict[str, object] = {"type": exc.error_type, "message": words.format(data=data)}
    if field:
        error["field"] = field
    error["finesse"] = {
        "errorType": exc.error_type,
        "errorMessage": exc.error_message,
        "errorData": data,
    }
    return web.json_response({"error": error}, status=exc.status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    try:
        return await handler(request)
    except AgentError as exc:
        response = error_response(STATUS[exc.kind], exc.error_type, exc.message, exc.field)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(retry_seconds(exc.retry_after))
        return response
    except FinesseApiError as exc:
        metrics.finesse_errors[exc.error_type] += 1
        return finesse_refused(exc)
    except FinesseTimeout:
        metrics.finesse_errors["timeout"] += 1
        return refused(
            Refusal.FINESSE_TIMEOUT,
            "Finesse did not answer in time; it may still take effect: the event stream will say",
        )
    except FinesseConnectionError:
        metrics.finesse_errors["connection"] += 1
        return refused(Refusal.FINESSE_UNREACHABLE, "Finesse cannot be reached")
    except FinesseError as exc:
        metrics.finesse_errors[type(exc).__name__] += 1
        return refused(Refusal.FINESSE_ERROR, str(exc))
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[MAX_BODY]
        return refused(
            Refusal.BODY_TOO_LARGE, f"the request body is too large (at most {limit} bytes)"
        )
    except web.HTTPNotFound:
        return refused(Refusal.NOT_FOUND, f"no such resource: {request.path}")
    except web.HTTPMethodNotAllowed:
        return refused(Refusal.METHOD_NOT_ALLOWED, f"{request.method} {request.path}")
    except web.HTTPException:
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return refused(Refusal.INTERNAL_ERROR, "the connector failed; see its log")
