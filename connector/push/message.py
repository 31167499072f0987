"""What is pushed, and how: the events an agent must not miss, as Web Push messages.

An app in the background is woken only for what cannot wait until the agent looks:
- a call ringing for the agent (`dialog.created` in state ALERTING), and the end of a call
  that was pushed (its notification is replaced: the caller gave up or someone answered);
- a session ended by someone else than the app (Finesse's forced logout, a supervisor);
- Finesse out of service.

The payload is the WebSocket's frame itself (`seq`, `type`, `data`, `ts`), so the app's
service worker reads it as it would read the stream. It must fit 3,000 bytes (push
services take 4,096 with the encryption's overhead, and some less): past that, call
variables go first, the largest first, then the participants, then everything but the
dialog's identity and caller; the frame then says `"trimmed": true`, and the app resumes
its stream (`?since=`) to see it whole.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from connector.stream import Frame

MAX_PAYLOAD = 3000
HIGH, NORMAL = "high", "normal"
KEPT_WHEN_SHORT = ("id", "state", "fromAddress", "toAddress", "queueName", "callType")


@dataclass(frozen=True, slots=True)
class PushMessage:
    body: bytes  # the frame as JSON, trimmed to fit
    ttl: int  # seconds the push service may keep it: the ring time for a call
    urgency: str
    topic: str  # an undelivered message with the same topic is replaced by this one
    dialog_id: str = ""


def frame_type(text: str) -> str:
    """The `type` of a frame's JSON without parsing it (frames are `{"seq":N,"type":"..."`):
    most frames are not pushed, and parsing each would cost every backgrounded agent's
    state change."""
    start = text.find('"type":"')
    if start < 0:
        return ""
    start += 8
    return text[start : text.find('"', start)]


def dialog_topic(dialog_id: str) -> str:
    """A Topic header (at most 32 base64url characters) per dialog."""
    digest = hashlib.sha256(dialog_id.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class PushPolicy:
    """Decides which frames are pushed, with which TTL, urgency and topic."""

    def __init__(self, *, call_ttl: int, ttl: int, max_payload: int = MAX_PAYLOAD) -> None:
        self.call_ttl = call_ttl
        self.ttl = ttl
        self.max_payload = max_payload

    def message(self, frame: Frame, pushed_dialogs: Collection[str]) -> PushMessage | None:
        """The push for `frame`, or None. `pushed_dialogs`: the agent's dialogs whose ringing
        was pushed (their end is pushed too)."""
        kind = frame_type(frame.text)
        if kind not in ("dialog.created", "dialog.ended", "session.ended", "system.status"):
            return None
        message = frame.message()
        data = message.get("data") or {}
        if kind == "dialog.created" and data.get("state") == "ALERTING":
            topic = dialog_topic(data["id"])
            return self._shaped(message, self.call_ttl, HIGH, topic, data["id"])
        if kind == "dialog.ended" and data.get("id") in pushed_dialogs:
            topic = dialog_topic(data["id"])
            return self._shaped(message, self.call_ttl, NORMAL, topic, data["id"])
        if kind == "session.ended" and data.get("reason") != "signed_out":
            return self._shaped(message, self.ttl, HIGH, "session")
        if kind == "system.status" and data.get("status") == "OUT_OF_SERVICE":
            return self._shaped(message, self.ttl, HIGH, "system")
        return None

    def _shaped(
        self, message: dict[str, Any], ttl: int, urgency: str, topic: str, dialog_id: str = ""
    ) -> PushMessage:
        return PushMessage(fit(message, self.max_payload), ttl, urgency, topic, dialog_id)


def _encoded(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def fit(message: dict[str, Any], limit: int = MAX_PAYLOAD) -> bytes:
    """The frame as JSON in at most `limit` bytes (see the module's doc for the order)."""
    body = _encoded(message)
    if len(body) <= limit:
        return body
    message = {**message, "trimmed": True, "data": dict(message.get("data") or {})}
    data = message["data"]
    variables = dict(data.get("callVariables") or {})
    while variables:
        del variables[max(variables, key=lambda k: len(_encoded({k: variables[k]})))]
        data["callVariables"] = variables
        body = _encoded(message)
        if len(body) <= limit:
            return body
    for shorter in (
        {**data, "callVariables": {}, "participants": []},
        {k: data[k] for k in KEPT_WHEN_SHORT if k in data},
        {k: data[k] for k in ("id",) if k in data},
    ):
        message["data"] = shorter
        body = _encoded(message)
        if len(body) <= limit:
            return body
    return _encoded({**message, "data": {}})
