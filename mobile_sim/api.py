"""The connector's mobile API as a phone app sees it on the wire: URLs, the bearer token, the
login body, replies and their errors, event frames (docs/connector.md).

The pieces are small and separate so that a client with a leaner hot path (the connector
benchmark's generator) is built from them rather than from a copy of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

API_PREFIX = "/api/v1"
# The event WebSocket's close code when a newer WebSocket of the same agent took its place
# (the connector keeps a few per agent): the app does not resume, or two would take turns.
CLOSE_REPLACED = 4002
Event = dict[str, Any]  # one event frame: {"seq", "type", "data"}


class AppError(Exception):
    """The connector refused a request: HTTP status and its `{"error": {...}}` body."""

    def __init__(self, status: int, type_: str, message: str, field: str | None = None):
        super().__init__(f"{status} {type_}: {message}")
        self.status, self.type, self.message, self.field = status, type_, message, field


@dataclass(frozen=True)
class Mobile:
    mode: str  # CALL_BY_CALL | NAILED_CONNECTION
    dial_number: str


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: its status and its body (parsed JSON, else the text)."""

    status: int
    body: Any

    @property
    def error(self) -> AppError | None:
        if self.status < 400:
            return None
        if not isinstance(self.body, dict):  # not the API's JSON: a proxy's page, say
            return AppError(self.status, "bad_response", str(self.body)[:200])
        error = self.body.get("error") or {}
        return AppError(
            self.status, error.get("type", "error"), error.get("message", ""), error.get("field")
        )

    @property
    def error_type(self) -> str:
        return self.error.type if self.error is not None else ""

    def accepted_body(self) -> Any:
        """The body of an accepted request; AppError for a refusal."""
        if self.error is not None:
            raise self.error
        return self.body


def service_root(base_url: str) -> str:
    """`http://host:port` from the connector's URL, with or without the API prefix."""
    return base_url.rstrip("/").removesuffix(API_PREFIX)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def login_body(
    agent_id: str, password: str, extension: str, mobile: Mobile | None = None
) -> dict[str, Any]:
    """POST /sessions: a mobile agent names its mode and dial number, a desk agent does not."""
    body: dict[str, Any] = {"agentId": agent_id, "password": password, "extension": extension}
    if mobile is not None:
        body["mobile"] = {"mode": mobile.mode, "dialNumber": mobile.dial_number}
    return body


def state_body(state: str, reason_code_id: int | str | None = None) -> dict[str, Any]:
    """PUT /agent/state."""
    body: dict[str, Any] = {"state": state}
    if reason_code_id is not None:
        body["reasonCodeId"] = reason_code_id
    return body


def events_url(root: str, since: int | None = None) -> str:
    """The event WebSocket; `since` resumes after that seq instead of a fresh snapshot."""
    query = "" if since is None else f"?since={since}"
    return f"{root}{API_PREFIX}/events{query}"


def parse_event(frame: str) -> Event:
    return json.loads(frame)


async def send(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    payload: Any = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request with a JSON body; never raises for an HTTP status (see `Reply.accepted_body`)."""
    async with http.request(method, url, json=payload, headers=headers) as r:
        text = await r.text()
        try:
            body = json.loads(text)
        except json.JSONDecodeError:
            body = text
        return Reply(r.status, body)
