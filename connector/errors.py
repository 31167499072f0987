"""The connector's one domain error: what was refused, in the connector's words.

Raised by the pure agent session and by the service layer; `connector/api/` alone turns a
`Refusal` into an HTTP status. A refusal by Finesse itself stays a `FinesseApiError` (its
ErrorType passes through to the app); `error_type` carries such a type where the connector
words the message but Finesse named the error (a sign-in with a wrong password).
"""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    """Why a request was refused. The value is the `type` the app sees."""

    INVALID_JSON = "invalid_json"
    MALFORMED_REQUEST = "malformed_request"  # not valid HTTP (a bad header, say)
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    ENDPOINT_NOT_ALLOWED = "endpoint_not_allowed"  # a push service not on the allowlist
    BODY_TOO_LARGE = "body_too_large"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UPGRADE_REQUIRED = "upgrade_required"  # the event stream is a WebSocket
    UNAUTHORIZED = "unauthorized"  # no valid session token
    TOKEN_EXPIRED = "token_expired"  # a session token past its lifetime: sign in again
    WRONG_CREDENTIALS = "wrong_credentials"  # Finesse refused the agent id or password
    CALL_CONTROL_UNAVAILABLE = "call_control_unavailable"
    ACTION_NOT_ALLOWED = "action_not_allowed"
    TOO_MANY_SESSIONS = "too_many_sessions"
    ALREADY_SIGNED_IN = "already_signed_in"  # a second sign-in that does not match the live one
    TOO_MANY_ATTEMPTS = "too_many_attempts"  # sign-ins throttled: see `retry_after`
    LOGIN_TIMEOUT = "login_timeout"
    LOGIN_INCOMPLETE = "login_incomplete"
    FINESSE_UNREACHABLE = "finesse_unreachable"
    FINESSE_TIMEOUT = "finesse_timeout"  # no answer in time: it may still take effect
    FINESSE_ERROR = "finesse_error"
    STATE_UNAVAILABLE = "state_unavailable"  # the state store (Redis) does not answer
    INTERNAL_ERROR = "internal_error"


class AgentError(Exception):
    """A request refused: why (`kind`), in plain words (`message`), about which field."""

    def __init__(
        self,
        kind: Refusal,
        message: str,
        field: str | None = None,
        *,
        error_type: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field
        self.error_type = error_type or kind.value  # the `type` the app sees
        self.retry_after = retry_after  # seconds, when trying again later can succeed

    def __repr__(self) -> str:
        return f"AgentError({self.kind.value!r}, {self.message!r}, {self.field!r})"
