"""Reading what the app sent: the JSON body, its fields, the session token.

Every value is checked before any use case sees it, so nothing from the app can fail in
an encoder, a conversion or a URL further on (a lone surrogate cannot be UTF-8 encoded, an
integer of 5,000 digits cannot be converted to text): ids and codes (agent id, extension,
dial number, reason code id, address, DTMF digits, ...) are printable and at most
`MAX_ID` characters; free text (a password, a wrap-up reason, call variables) has no
control characters and at most `MAX_TEXT`. A refusal names the field.
"""

from __future__ import annotations

import functools
import json
import unicodedata
from typing import Any

from aiohttp import web

from connector.errors import AgentError, Refusal
from connector.finesse.models import MobileAgent, MobileAgentMode

MOBILE_MODES = tuple(m.value for m in MobileAgentMode)
MAX_ID = 64
MAX_TEXT = 1024
# Longer than an id, checked further by their use case: a push subscription's endpoint
# (a URL) and keys (base64url).
FREE_TEXT = frozenset({"password", "wrapUpReason", "callVariables", "endpoint", "keys"})
MAX_SINCE_DIGITS = 18  # a seq fits in 64 bits


class LongNumber:
    """A JSON number of more than `MAX_ID` digits, not converted (Python refuses to convert
    more than 4,300): refused by `check_values` in whichever field holds it, and by every
    check of a field's type (it is neither a number nor a string)."""

    __slots__ = ("digits",)

    def __init__(self, digits: str) -> None:
        self.digits = digits


def _number(digits: str) -> int | LongNumber:
    return LongNumber(digits) if len(digits.lstrip("-")) > MAX_ID else int(digits)


_loads = functools.partial(json.loads, parse_int=_number)


async def body(request: web.Request, allowed: set[str]) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json(loads=_loads)
    # ValueError: JSON, Unicode; LookupError: an unknown charset; RecursionError: nesting.
    except (ValueError, LookupError, RecursionError) as exc:
        raise AgentError(Refusal.INVALID_JSON, f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise AgentError(Refusal.INVALID_JSON, "body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise AgentError(Refusal.UNKNOWN_FIELD, f"unknown field {unknown[0]!r}", unknown[0])
    check_values(data)
    return data


def check_values(data: dict[str, Any]) -> None:
    """Every string and number in the body, and in its objects (`mobile`, `callVariables`),
    is one the connector can pass on; the refusal names the field."""
    for name, value in data.items():
        free = name in FREE_TEXT
        if not isinstance(value, dict):
            _check_value(name, value, free=free)
            continue
        for key, item in value.items():
            field = name if free else key  # `mobile`'s fields have names of their own
            _check_value(name, key, free=False)
            _check_value(field, item, free=free)


def _check_value(field: str, value: Any, *, free: bool) -> None:
    if isinstance(value, LongNumber):
        raise AgentError(Refusal.INVALID_FIELD, f"{field} is too long", field)
    if not isinstance(value, str):
        return  # the wrong type is refused where the field is read
    limit = MAX_TEXT if free else MAX_ID
    if len(value) > limit:
        raise AgentError(
            Refusal.INVALID_FIELD, f"{field} is too long (at most {limit} characters)", field
        )
    if not (_free_text(value) if free else value.isprintable() and _free_text(value)):
        raise AgentError(Refusal.INVALID_FIELD, f"{field} has characters not allowed", field)


def _free_text(value: str) -> bool:
    """No control characters, no lone surrogates (which no encoder takes)."""
    return not any(unicodedata.category(c) in ("Cc", "Cs") for c in value)


def text(data: dict[str, Any], name: str, *, required: bool = True, number_ok: bool = False) -> str:
    """A string field (`number_ok`: a JSON integer is taken too, as for reason code ids).
    Every type is checked alike: `"agentId": 1002` is refused like `"password": 123`."""
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise AgentError(Refusal.MISSING_FIELD, f"{name} is required", name)
        return ""
    if isinstance(value, str) or (number_ok and type(value) is int):
        return str(value)
    raise AgentError(Refusal.INVALID_FIELD, f"{name} must be a string", name)


def mobile(data: dict[str, Any]) -> MobileAgent | None:
    """`mobile: {mode, dialNumber}` of a sign-in; None for a state-only session."""
    raw = data.get("mobile")
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - {"mode", "dialNumber"}:
        raise AgentError(Refusal.INVALID_FIELD, "mobile is {mode, dialNumber}", "mobile")
    mode = text(raw, "mode")
    if mode not in MOBILE_MODES:
        raise AgentError(Refusal.INVALID_FIELD, f"mode must be one of {MOBILE_MODES}", "mode")
    return MobileAgent(mode, text(raw, "dialNumber"))


def flag(data: dict[str, Any], name: str) -> bool:
    """A required JSON boolean."""
    value = data.get(name)
    if value is None:
        raise AgentError(Refusal.MISSING_FIELD, f"{name} is required", name)
    if not isinstance(value, bool):
        raise AgentError(Refusal.INVALID_FIELD, f"{name} must be true or false", name)
    return value


def push_subscription(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A browser's `PushSubscription.toJSON()`: its endpoint and keys (checked by the push
    use case); `expirationTime` is null or a time in ms, and not used."""
    expiration = data.get("expirationTime")
    if expiration is not None and (type(expiration) not in (int, float) or expiration < 0):
        raise AgentError(
            Refusal.INVALID_FIELD, "expirationTime must be null or a time", "expirationTime"
        )
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise AgentError(Refusal.MISSING_FIELD, "keys {p256dh, auth} is required", "keys")
    return text(data, "endpoint"), keys


def since(request: web.Request) -> int | None:
    """`?since=SEQ` of the event stream: resume after the last event the app saw."""
    value = request.query.get("since")
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= MAX_SINCE_DIGITS):
        raise AgentError(Refusal.INVALID_FIELD, "since must be a sequence number", "since")
    return int(value)


def token(request: web.Request, *, websocket: bool = False) -> str:
    """The session token: `Authorization: Bearer TOKEN`. Browsers cannot set headers on a
    WebSocket, so the event WebSocket also takes `?token=` or `Sec-WebSocket-Protocol:
    bearer, TOKEN`; nothing else does, so that tokens stay out of proxies' logs of URLs."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if not websocket:
        return ""
    if "token" in request.query:
        return request.query["token"]
    protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    if len(protocols) == 2 and protocols[0] == "bearer":
        return protocols[1]
    return ""


def client_address(request: web.Request, trusted_proxies: tuple[str, ...]) -> str:
    """Who is asking: the peer's address, or, when the peer is one of our trusted reverse
    proxies, the nearest address in `X-Forwarded-For` that is not one of them (the ones
    further left are the client's to write, so never trusted)."""
    peer = request.remote or ""
    if peer not in trusted_proxies:
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed(hops):
        if hop and hop not in trusted_proxies:
            return hop
    return peer
