"""Reading what the app sent: the JSON body, its fields, the session token."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from connector.errors import AgentError, Refusal
from connector.finesse.models import MobileAgent, MobileAgentMode

MOBILE_MODES = tuple(m.value for m in MobileAgentMode)


async def body(request: web.Request, allowed: set[str]) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AgentError(Refusal.INVALID_JSON, f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise AgentError(Refusal.INVALID_JSON, "body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise AgentError(Refusal.UNKNOWN_FIELD, f"unknown field {unknown[0]!r}", unknown[0])
    return data


def text(data: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise AgentError(Refusal.MISSING_FIELD, f"{name} is required", name)
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AgentError(Refusal.INVALID_FIELD, f"{name} must be a string", name)
    return str(value)


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


def since(request: web.Request) -> int | None:
    """`?since=SEQ` of the event stream: resume after the last event the app saw."""
    value = request.query.get("since")
    if value is None:
        return None
    if not value.isdigit():
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
