"""Typed Finesse errors: what the REST client raises and what async `apiErrors` become.

A refusal by Finesse is a `FinesseApiError` carrying the HTTP status and the parsed
`ApiErrors` body (docs/finesse.md, Errors); its subclass tells the caller what to do about it:

- `FinesseUnauthorized`: 401 (Authorization Failure, Authentication Failure, Invalid
  Authorization User Specified, Invalid Supervisor, ...): wrong credentials, a locked-out
  user, or another agent's object. Not retried.
- `FinesseBadRequest`: 400 with any ErrorType (Invalid State, Invalid Input, Parameter
  Missing, Invalid Destination, ...), and a 401 whose ErrorType is `Invalid State`
  (docs/finesse.md, Errors: some dialog actions on a HELD participant): not allowed now, which is
  not a credentials problem. The ErrorType passes on to the app.
- `FinesseNotFound`: 404: the object is gone.
- `FinesseUnavailable`: 503, SERVER_OUT_OF_SERVICE (Finesse lost CTI, docs/finesse.md, Out
  of service): wait for IN_SERVICE; an idempotent request may be retried.
- `FinesseServerError`: another 5xx, except 501.
- `FinesseApiError` itself: everything else (3xx, 403, 405, 415, 416, 501, ...).

`FinesseConnectionError` is a failure to get any answer (refused, reset, timed out:
`FinesseTimeout`).
`FinesseAsyncError` is an `apiErrors` notification: the 202 came first, CTI refused later
(docs/finesse.md, Errors).

No message built here ever holds a password or an Authorization header: errors are built
from status, ErrorType/ErrorMessage/ErrorData and a host name only, and the body of a
non-Finesse error page is never copied into a message.
"""

from __future__ import annotations

from http import HTTPStatus

from connector.finesse.codec import parse_api_errors
from connector.finesse.models import ApiError
from connector.finesse.safexml import FinesseXmlError, parse_xml

__all__ = [
    "FinesseApiError",
    "FinesseAsyncError",
    "FinesseBadRequest",
    "FinesseConnectionError",
    "FinesseError",
    "FinesseNotFound",
    "FinesseResponseError",
    "FinesseServerError",
    "FinesseTimeout",
    "FinesseUnauthorized",
    "FinesseUnavailable",
    "api_error_from_response",
    "api_error_type",
]

# ErrorMessage and ErrorData are copied into str(); keep a hostile or broken server from
# making log lines huge.
_MAX_TEXT = 200
# An error body is small; a huge one is not parsed (it is not an ApiErrors body anyway).
_MAX_ERROR_BODY = 64 * 1024


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


class FinesseError(Exception):
    """Base of every error of the Finesse layer."""


class _FirstError:
    """Reads the first of `errors`: what a caller usually branches on."""

    errors: list[ApiError]

    @property
    def error_type(self) -> str:
        return self.errors[0].error_type

    @property
    def error_message(self) -> str:
        return self.errors[0].error_message

    @property
    def error_data(self) -> str:
        return self.errors[0].error_data


class FinesseApiError(_FirstError, FinesseError):
    """Finesse answered with a status that is not a success, usually with `ApiErrors`.

    `errors` always holds at least one `ApiError`; the properties read the first one.
    """

    def __init__(self, status: int, errors: list[ApiError]) -> None:
        self.status = status
        self.errors: list[ApiError] = list(errors) or [ApiError(_reason_phrase(status))]
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"Finesse answered {self.status} {self.error_type}"
        if self.error_message:
            text += f": {_short(self.error_message)}"
        if self.error_data:
            text += f" ({_short(self.error_data)})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, error_type={self.error_type!r})"


class FinesseUnauthorized(FinesseApiError):
    """401: wrong credentials, a locked-out user, or an object of another user."""


class FinesseBadRequest(FinesseApiError):
    """400 (any ErrorType), or a 401 `Invalid State`: the request cannot be done now."""


class FinesseNotFound(FinesseApiError):
    """404: Not Found, User Not Found, Dialog Not Found, TeamId Not Found, ..."""


class FinesseUnavailable(FinesseApiError):
    """503: Finesse is OUT_OF_SERVICE (e.g. during a CTI failover); retrying later works."""


class FinesseServerError(FinesseApiError):
    """A 5xx other than 503 and 501 (e.g. 500 RUNTIME_EXCEPTION)."""


class FinesseResponseError(FinesseError):
    """A success status whose body is not the XML that was expected."""


class FinesseConnectionError(FinesseError):
    """No answer from Finesse: connection refused or reset, DNS failure, or a timeout.

    `host` names the node (`host:port`), never credentials. For a PUT or POST the outcome
    is unknown: the request may have reached Finesse before the connection broke.
    """

    def __init__(self, message: str, *, host: str = "") -> None:
        self.host = host
        super().__init__(message)


class FinesseTimeout(FinesseConnectionError):
    """Finesse did not answer in time. The request may still take effect: a change's
    outcome arrives as a notification, if it was made."""


class FinesseAsyncError(_FirstError, FinesseError):
    """An asynchronous `apiErrors` notification (docs/finesse.md, Errors): accepted with 202, then
    refused by CTI (e.g. `Invalid Device` at login, `Call Operation Failure`)."""

    def __init__(self, errors: list[ApiError], *, request_id: str = "", source: str = "") -> None:
        self.errors: list[ApiError] = list(errors) or [ApiError("Unknown Error")]
        self.request_id = request_id
        self.source = source
        first = self.errors[0]
        text = f"Finesse refused asynchronously: {first.error_type}"
        if first.error_message:
            text += f": {_short(first.error_message)}"
        if first.error_data:
            text += f" ({_short(first.error_data)})"
        super().__init__(text)


def _reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def api_error_type(status: int, error_type: str) -> type[FinesseApiError]:
    """The exception class for a status and the first ErrorType."""
    if status == 400:
        return FinesseBadRequest
    if status == 401:
        # docs/finesse.md, Errors: Finesse also answers 401 "Invalid State" for some dialog actions
        # (e.g. SEND_DTMF on a HELD participant). That is a request not allowed now, not a
        # credentials problem: a caller must not treat it as a failed login.
        if error_type.strip().lower() == "invalid state":
            return FinesseBadRequest
        return FinesseUnauthorized
    if status == 404:
        return FinesseNotFound
    if status == 503:
        return FinesseUnavailable
    if 500 <= status <= 599 and status != 501:
        return FinesseServerError
    return FinesseApiError


def _parse_errors(body: str | bytes | None) -> list[ApiError]:
    """The ApiErrors of a body; [] when it is empty or not an ApiErrors document."""
    if not body or len(body) > _MAX_ERROR_BODY:
        return []
    try:
        root = parse_xml(body)
    except FinesseXmlError:
        return []  # e.g. an HTML error page from a proxy, or plain text
    try:
        errors = parse_api_errors(root)
    except FinesseXmlError:
        return []  # well-formed XML, but not ApiErrors (XHTML, ...)
    return [e for e in errors if e.error_type or e.error_message or e.error_data]


def api_error_from_response(
    status: int, body: str | bytes | None, reason: str | None = None
) -> FinesseApiError:
    """The typed error for a non-success answer.

    `body` is parsed as a REST `ApiErrors` document (PascalCase; the lower-case casing is
    accepted too). An empty body, a non-XML one (an HTML page from a proxy or Tomcat) or
    XML of another shape gives one `ApiError` whose type is the HTTP reason phrase
    (`reason`, else the standard phrase for `status`); the body itself is never copied.
    An ApiError without an ErrorType gets the reason phrase as its type.
    """
    phrase = (reason or "").strip() or _reason_phrase(status)
    errors = _parse_errors(body)
    if not errors:
        errors = [ApiError(error_type=phrase)]
    errors = [
        e if e.error_type else ApiError(phrase, e.error_message, e.error_data) for e in errors
    ]
    cls = api_error_type(status, errors[0].error_type)
    return cls(status, errors)
