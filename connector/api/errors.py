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
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATUS: dict[Refusal, int] = {
    Refusal.INVALID_JSON: 400,
    Refusal.MALFORMED_REQUEST: 400,
    Refusal.UNKNOWN_FIELD: 400,
    Refusal.MISSING_FIELD: 400,
    Refusal.INVALID_FIELD: 400,
    Refusal.UNAUTHORIZED: 401,
    Refusal.WRONG_CREDENTIALS: 401,
    Refusal.CALL_CONTROL_UNAVAILABLE: 403,
    Refusal.NOT_FOUND: 404,
    Refusal.METHOD_NOT_ALLOWED: 405,
    Refusal.ACTION_NOT_ALLOWED: 409,
    Refusal.LOGIN_INCOMPLETE: 409,
    Refusal.BODY_TOO_LARGE: 413,
    Refusal.UPGRADE_REQUIRED: 426,
    Refusal.TOO_MANY_ATTEMPTS: 429,
    Refusal.INTERNAL_ERROR: 500,
    Refusal.FINESSE_UNREACHABLE: 502,
    Refusal.FINESSE_ERROR: 502,
    Refusal.TOO_MANY_SESSIONS: 503,
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
        return error_response(
            exc.status, exc.error_type, exc.error_message or exc.error_type, exc.error_data or None
        )
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
        return refused(Refusal.BODY_TOO_LARGE, "the request body is too large")
    except web.HTTPNotFound:
        return refused(Refusal.NOT_FOUND, f"no such resource: {request.path}")
    except web.HTTPMethodNotAllowed:
        return refused(Refusal.METHOD_NOT_ALLOWED, f"{request.method} {request.path}")
    except web.HTTPException:
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return refused(Refusal.INTERNAL_ERROR, "the connector failed; see its log")
