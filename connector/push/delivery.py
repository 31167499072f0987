"""Sending one push message to one subscription (RFC 8030 section 5), with retries.

The body is encrypted for the browser (RFC 8291, aes128gcm) and the request signed with the
connector's VAPID key (RFC 8292). The push service's answer decides what follows:
- 201/202: sent;
- 404/410: the subscription is gone (the browser dropped it): it is removed;
- 429 and 5xx, or no answer: tried again after `Retry-After` when the service gives one,
  else after an exponential backoff with jitter, as long as the message's TTL lasts (a
  call's push is worthless once the call stopped ringing);
- any other 4xx: the message cannot succeed as it is; logged once per subscription.

Redirects are not followed: the allowlist names where the connector sends, not the push
service. Encryption is done on the event loop: a fresh key pair, ECDH and AES-GCM cost
about 0.2 ms of CPU per message (docs/benchmarks.md, Push), and two threads encrypt
barely faster than one (most of it holds the GIL): a thread pool would not take it off the
loop, only add a hand-over.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import http_ece
from cryptography.hazmat.primitives.asymmetric import ec

from connector.push.message import PushMessage
from connector.push.metrics import PushMetrics
from connector.push.subscriptions import Subscription
from connector.push.vapid import VapidKeys

log = logging.getLogger("connector.push")
SENT = (200, 201, 202)
GONE = (404, 410)


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


class PushSender:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        vapid: VapidKeys,
        metrics: PushMetrics,
        *,
        on_gone: Callable[[Subscription], Awaitable[None]],
        settings: DeliverySettings | None = None,
    ) -> None:
        self.http = http
        self.vapid = vapid
        self.metrics = metrics
        self.settings = settings or DeliverySettings()
        self._on_gone = on_gone
        self._refused: set[str] = set()  # subscriptions whose refusal was logged

    async def send(self, subscription: Subscription, message: PushMessage, started: float) -> bool:
        """Deliver until sent, gone, refused, or the TTL is over; True when sent. `started`
        is when the event came in (time.monotonic), for the TTL and the latency."""
        body = encrypt(message.body, subscription)
        deadline = started + message.ttl
        attempt = 0
        while True:
            status, wait = await self._attempt(subscription, message, body, deadline)
            if status in SENT:
                self.metrics.sent += 1
                self.metrics.latency.observe(time.monotonic() - started)
                return True
            label = str(status) if isinstance(status, int) else status
            if status in GONE:
                self.metrics.failed[label] += 1
                self.metrics.removed += 1
                await self._on_gone(subscription)
                return False
            if isinstance(status, int) and status < 500 and status != 429:
                self.metrics.failed[label] += 1
                if subscription.id not in self._refused:
                    self._refused.add(subscription.id)
                    log.warning(
                        "push to %s (agent %s) refused with %s; not retried",
                        subscription.origin,
                        subscription.agent_id,
                        status,
                    )
                return False
            if wait is None:
                wait = min(self.settings.first_backoff * 2**attempt, self.settings.max_backoff)
                wait *= random.uniform(0.8, 1.2)
            if time.monotonic() + wait >= deadline:
                self.metrics.failed[label] += 1
                return False
            self.metrics.retried += 1
            attempt += 1
            await asyncio.sleep(wait)  # the service asked for it, or backing off: not a test

    async def _attempt(
        self, subscription: Subscription, message: PushMessage, body: bytes, deadline: float
    ) -> tuple[int | str, float | None]:
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
                return response.status, retry_after(
                    response.headers.get("Retry-After"), time.time()
                )
        except TimeoutError:
            return "timeout", None
        except (aiohttp.ClientError, OSError):
            return "connection", None
