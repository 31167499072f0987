"""A simulated Web Push service (RFC 8030) on loopback, for tests, the demo and load tests.

It stands for both ends a phone has: the browser vendor's push service, which takes the
application server's POST, and the browser, which holds the subscription's keys, decrypts
the message and hands it to the app. `subscribe()` makes a subscription for a simulated
app (its own P-256 key pair and auth secret, bound to the application server's key as a
browser's `pushManager.subscribe` is) and says what to call with each message.

It refuses what real push services refuse:
- 401: no `Authorization: vapid t=JWT,k=KEY`, or a JWT whose ES256 signature does not
  verify with `k`;
- 403: a valid signature but the wrong claims (`aud` not this service's origin, `exp`
  past or more than 24 hours away, no `sub`), or `k` not the key the subscription was made
  for;
- 400: no `TTL` (or not a number of seconds), an `Urgency` not in RFC 8030's four, a
  `Topic` longer than 32 characters or not base64url, a `Content-Encoding` other than
  aes128gcm;
- 413: a body over 4,096 bytes; 404: an unknown subscription; 410: one that is gone.
A message that does not decrypt is accepted (201) and dropped, as a browser drops it.

Faults, by its control endpoint (`POST /control/faults`, `DELETE` clears them): `down`
(every push answered 503), `latency` (s before answering), `rateLimit` ({retryAfter,
count}: the next `count` pushes are answered 429 with `Retry-After`), `gone` (subscription
ids answered 410 from now on). `GET /control/stats` counts what came.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import http_ece
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt

log = logging.getLogger("mobile_sim.push")
MAX_BODY = 4096
URGENCIES = ("very-low", "low", "normal", "high")
MAX_JWT_LIFETIME = 24 * 3600
TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class PushMessage:
    """A message as the app receives it: the decrypted payload and how it was sent."""

    subscription_id: str
    payload: dict[str, Any]
    ttl: int
    urgency: str
    topic: str
    received: float  # time.time() when decrypted


OnMessage = Callable[[PushMessage], None]


@dataclass
class SimSubscription:
    id: str
    server_key: str  # the application server's public key (base64url), as subscribed with
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    on_message: OnMessage
    endpoint: str = ""

    def to_json(self) -> dict[str, Any]:
        """What a browser's `PushSubscription.toJSON()` gives the app."""
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }


@dataclass
class Faults:
    down: bool = False
    latency: float = 0.0
    rate_limited: int = 0  # pushes still to answer 429
    retry_after: int = 1
    gone: set[str] = field(default_factory=set)


class Refused(Exception):
    def __init__(self, status: int, reason: str, retry_after: int = 0) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after  # s, for a 429


class SimPushService:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.subscriptions: dict[str, SimSubscription] = {}
        self.faults = Faults()
        self.stats: Counter[str] = Counter()  # accepted, decrypted, and refusals by status
        self.latencies: list[float] = []  # frame `ts` (the connector's) -> decrypted, in s
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()  # ends a `latency` fault's waits
        self.answered: list[tuple[float, int]] = []  # (time.monotonic(), status) per push
        self.received = 0  # pushes that came in (answered or not yet)
        self._changed = asyncio.Event()  # a fresh one per change: see `wait_until`

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- the running service ------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/push/{id}", self._push)
        app.router.add_post("/control/faults", self._set_faults)
        app.router.add_delete("/control/faults", self._clear_faults)
        app.router.add_get("/control/stats", self._stats)
        return app

    async def start(self) -> SimPushService:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SimPushService:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the browser's side -------------------------------------------------------------------

    def subscribe(self, server_key: str, on_message: OnMessage) -> SimSubscription:
        """A new subscription bound to the application server's key, as
        `pushManager.subscribe({applicationServerKey})` makes one."""
        id_ = secrets.token_urlsafe(16)
        subscription = SimSubscription(
            id_, server_key, ec.generate_private_key(ec.SECP256R1()), os.urandom(16), on_message
        )
        subscription.endpoint = f"{self.origin}/push/{id_}"
        self.subscriptions[id_] = subscription
        return subscription

    def unsubscribe(self, subscription_id: str) -> None:
        self.subscriptions.pop(subscription_id, None)

    # -- the push service's side --------------------------------------------------------------

    def _signal(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_until(self, check: Callable[[], object], timeout: float = 5.0) -> None:
        """Until `check()` is true, re-checked at every push that comes in or is answered
        (TimeoutError after `timeout`)."""
        async with asyncio.timeout(timeout):
            while not check():
                await self._changed.wait()

    async def _push(self, request: web.Request) -> web.Response:
        self.received += 1
        self._signal()
        try:
            return await self._answer(request)
        finally:
            self._signal()

    async def _answer(self, request: web.Request) -> web.Response:
        faults = self.faults
        if faults.latency:
            # The service is slow (a fault): it answers late, or when it stops.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), faults.latency)
        try:
            status, headers = await self._accept(request)
        except Refused as exc:
            self.stats[str(exc.status)] += 1
            self.answered.append((time.monotonic(), exc.status))
            headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
            return web.Response(status=exc.status, text=exc.reason, headers=headers)
        self.answered.append((time.monotonic(), status))
        return web.Response(status=status, headers=headers)

    async def _accept(self, request: web.Request) -> tuple[int, dict[str, str]]:
        faults = self.faults
        if faults.down:
            raise Refused(503, "the push service is down")
        id_ = request.match_info["id"]
        if id_ in faults.gone:
            self.subscriptions.pop(id_, None)
            raise Refused(410, "the subscription is gone")
        subscription = self.subscriptions.get(id_)
        if subscription is None:
            raise Refused(404, "no such subscription")
        if faults.rate_limited > 0:
            faults.rate_limited -= 1
            raise Refused(429, "too many requests", faults.retry_after)
        self._check_vapid(request.headers.get("Authorization", ""), subscription)
        ttl, urgency, topic = _check_headers(request.headers)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise Refused(413, f"the body is over {MAX_BODY} bytes") from None
        self.stats["accepted"] += 1
        self._hand_over(subscription, body, ttl, urgency, topic)
        return 201, {"Location": f"{self.origin}/message/{secrets.token_urlsafe(12)}"}

    def _check_vapid(self, header: str, subscription: SimSubscription) -> None:
        scheme, _, params = header.partition(" ")
        parts = dict(p.strip().partition("=")[::2] for p in params.split(",") if "=" in p)
        token, key = parts.get("t", ""), parts.get("k", "")
        if scheme.lower() != "vapid" or not token or not key:
            raise Refused(401, "Authorization must be 'vapid t=JWT,k=KEY'")
        try:
            claims = jwt.decode(token, key)
        except (InvalidSignature, ValueError, UnicodeDecodeError, binascii.Error):
            raise Refused(401, "the VAPID signature does not verify") from None
        if key != subscription.server_key:
            raise Refused(403, "the VAPID key is not the one the subscription was made for")
        now = time.time()
        exp = claims.get("exp")
        if claims.get("aud") != self.origin:
            raise Refused(403, f"aud must be {self.origin}")
        if not isinstance(exp, int) or exp <= now or exp > now + MAX_JWT_LIFETIME:
            raise Refused(403, "exp must be in the future, at most 24 hours away")
        if not claims.get("sub"):
            raise Refused(403, "sub is required")

    def _hand_over(
        self, subscription: SimSubscription, body: bytes, ttl: int, urgency: str, topic: str
    ) -> None:
        """The browser's part: decrypt, then the app's handler (a failure is dropped)."""
        try:
            plain = http_ece.decrypt(
                body,
                private_key=subscription.private_key,
                auth_secret=subscription.auth,
                version="aes128gcm",
            )
            payload = json.loads(plain)
        except Exception as exc:  # http_ece raises its own and cryptography's errors
            self.stats["undecryptable"] += 1
            log.warning("push to %s does not decrypt: %r", subscription.id, exc)
            return
        received = time.time()
        self.stats["decrypted"] += 1
        if isinstance(payload, dict) and isinstance(payload.get("ts"), int | float):
            self.latencies.append(received - payload["ts"])
        subscription.on_message(
            PushMessage(subscription.id, payload, ttl, urgency, topic, received)
        )

    # -- control ------------------------------------------------------------------------------

    async def _set_faults(self, request: web.Request) -> web.Response:
        data = await request.json()
        faults = self.faults
        faults.down = bool(data.get("down", faults.down))
        faults.latency = float(data.get("latency", faults.latency))
        if "rateLimit" in data:
            faults.retry_after = int(data["rateLimit"].get("retryAfter", 1))
            faults.rate_limited = int(data["rateLimit"].get("count", 1))
        faults.gone |= set(data.get("gone", ()))
        return web.json_response(self._faults_json())

    async def _clear_faults(self, _request: web.Request) -> web.Response:
        self.clear_faults()
        return web.json_response(self._faults_json())

    def clear_faults(self) -> None:
        self.faults = Faults()

    def _faults_json(self) -> dict[str, Any]:
        f = self.faults
        return {
            "down": f.down,
            "latency": f.latency,
            "rateLimit": {"retryAfter": f.retry_after, "count": f.rate_limited},
            "gone": sorted(f.gone),
        }

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {"subscriptions": len(self.subscriptions), "counts": dict(self.stats)}
        )


def _check_headers(headers: Any) -> tuple[int, str, str]:
    ttl = headers.get("TTL", "")
    if not ttl.isdigit():
        raise Refused(400, "TTL (seconds) is required")
    urgency = headers.get("Urgency", "normal")
    if urgency not in URGENCIES:
        raise Refused(400, f"Urgency must be one of {', '.join(URGENCIES)}")
    topic = headers.get("Topic", "")
    if topic and not TOPIC.fullmatch(topic):
        raise Refused(400, "Topic must be at most 32 base64url characters")
    if headers.get("Content-Encoding", "") != "aes128gcm":
        raise Refused(400, "Content-Encoding must be aes128gcm")
    return int(ttl), urgency, topic
