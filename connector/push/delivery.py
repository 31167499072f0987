"""Sending one push message to one subscription (RFC 8030 section 5), with retries.

The body is encrypted for the browser (RFC 8291, aes128gcm) and the request signed with the
connector's VAPID key (RFC 8292). The push service's answer decides what follows:
- 201/202: sent;
- 404/410: the subscription is gone (the browser dropped it): the caller removes it;
- 429 and 5xx, or no answer: tried again after `Retry-After` when the service gives one,
  else after an exponential backoff with jitter, as long as the message's TTL lasts (a
  call's push is worthless once the call stopped ringing);
- any other 4xx: the message cannot succeed as it is.
Each push ends in a `Delivery`, which the notifier counts and acts on: the sender keeps no
state of the connector's, so it runs the same on the event loop (`PushSender`) or in a
process of its own (`connector/push/process.py`).

Redirects are not followed: the allowlist names where the connector sends, not the push
service. A push costs about 0.65 ms of CPU (a fresh key pair, ECDH, AES-GCM and the HTTP
request; docs/benchmarks.md, Push); two threads encrypt barely faster than one (most of
it holds the GIL), so the way off the relay's loop is a process, not a thread pool.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import http_ece
from cryptography.hazmat.primitives.asymmetric import ec

from connector.push.message import PushMessage
from connector.push.subscriptions import Subscription
from connector.push.vapid import VapidKeys

SENT = ("200", "201", "202")
GONE = ("404", "410")


@dataclass(frozen=True)
class DeliverySettings:
    timeout: float = 5.0  # s for one attempt's answer
    first_backoff: float = 0.5  # s before the second attempt, doubled after each
    max_backoff: float = 30.0


def encrypt(message: bytes, subscription: Subscription) -> bytes:
    """The aes128gcm body for the subscription's browser: a fresh sender key and salt per
    message, as RFC 8291 requires."""
    return http_ece.encrypt(
        message,
        private_key=ec.generate_private_key(ec.SECP256R1()),
        dh=subscription.p256dh,
        auth_secret=subscription.auth,
        version="aes128gcm",
    )


def retry_after(value: str | None, now: float) -> float | None:
    """`Retry-After` in seconds: a number of seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one push ended: the push service's last answer (`"201"`, `"410"`, ...) or
    `"connection"` / `"timeout"`, the attempts repeated, and when sent the time from the
    event coming in to the push service's acceptance (s)."""

    status: str
    retries: int = 0
    latency: float | None = None

    @property
    def sent(self) -> bool:
        return self.latency is not None

    @property
    def gone(self) -> bool:
        """The push service no longer knows the subscription."""
        return self.status in GONE

    @property
    def refused(self) -> bool:
        """A 4xx other than 429 and gone: the message cannot succeed as it is."""
        return (
            not self.sent
            and not self.gone
            and self.status.isdigit()
            and 400 <= int(self.status) < 500
            and self.status != "429"
        )


class Sender(Protocol):
    """Delivers pushes: on this event loop (`PushSender`) or in a process of its own."""

    async def send(
        self, subscription: Subscription, message: PushMessage, started: float
    ) -> Delivery: ...

    async def close(self) -> None: ...


class PushSender:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        vapid: VapidKeys,
        settings: DeliverySettings | None = None,
    ) -> None:
        self.http = http  # owned: closed with the sender
        self.vapid = vapid
        self.settings = settings or DeliverySettings()

    @classmethod
    def open(cls, vapid: VapidKeys, settings: DeliverySettings | None = None) -> PushSender:
        """A sender with an HTTP client of its own (in a running loop). Push services are
        public: the system's trust store, not Finesse's TLS settings."""
        return cls(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)), vapid, settings)

    async def send(
        self, subscription: Subscription, message: PushMessage, started: float
    ) -> Delivery:
        """Deliver until sent, gone, refused, or the TTL is over. `started` is when the
        event came in (time.monotonic, one clock for every process of the machine), for
        the TTL and the latency."""
        body = encrypt(message.body, subscription)
        deadline = started + message.ttl
        attempt = 0
        while True:
            status, wait = await self._attempt(subscription, message, body, deadline)
            if status in SENT:
                return Delivery(status, attempt, time.monotonic() - started)
            delivery = Delivery(status, attempt)
            if delivery.gone or delivery.refused:
                return delivery
            if wait is None:
                wait = min(self.settings.first_backoff * 2**attempt, self.settings.max_backoff)
                wait *= random.uniform(0.8, 1.2)
            if time.monotonic() + wait >= deadline:
                return delivery
            attempt += 1
            await asyncio.sleep(wait)  # the service asked for it, or backing off: not a test

    async def _attempt(
        self, subscription: Subscription, message: PushMessage, body: bytes, deadline: float
    ) -> tuple[str, float | None]:
        """One POST: the status (or "connection"/"timeout") and the wait the service asked."""
        headers = {
            "Authorization": self.vapid.authorization(subscription.origin),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            # What is left of the TTL: the service must not keep it past the ring time.
            "TTL": str(max(0, int(deadline - time.monotonic()))),
            "Urgency": message.urgency,
            "Topic": message.topic,
        }
        try:
            async with self.http.post(
                subscription.endpoint,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
            ) as response:
                return str(response.status), retry_after(
                    response.headers.get("Retry-After"), time.time()
                )
        except TimeoutError:
            return "timeout", None
        except (aiohttp.ClientError, OSError):
            return "connection", None

    async def close(self) -> None:
        await self.http.close()
