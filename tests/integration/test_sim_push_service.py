"""The simulated push service refuses what real push services refuse, and hands what it
accepts, decrypted, to the simulated app."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import pytest
from py_vapid import jwt

from connector.push import Subscription, VapidKeys
from connector.push.delivery import encrypt
from mobile_sim.push_service import PushMessage, SimPushService, unb64url

pytestmark = pytest.mark.integration


@pytest.fixture
async def service():
    async with SimPushService() as service:
        yield service


@pytest.fixture
def keys(tmp_path: Path) -> VapidKeys:
    return VapidKeys.load(tmp_path / "a", "mailto:ops@example.com")


class Phone:
    def __init__(self, service: SimPushService, keys: VapidKeys) -> None:
        self.got: list[PushMessage] = []
        self.sub = service.subscribe(keys.public_key, self.got.append)
        browser = self.sub.to_json()
        self.connector_side = Subscription(
            "c",
            "1001",
            browser["endpoint"],
            service.origin,
            unb64url(browser["keys"]["p256dh"]),
            unb64url(browser["keys"]["auth"]),
        )

    def body(self, payload: bytes = b'{"seq":1,"type":"x","data":{},"ts":1.0}') -> bytes:
        return encrypt(payload, self.connector_side)


def headers(authorization: str, **extra: str) -> dict[str, str]:
    return {
        "Authorization": authorization,
        "TTL": "30",
        "Content-Encoding": "aes128gcm",
        "Urgency": "high",
        "Topic": "abc",
        **extra,
    }


def token(keys: VapidKeys, **claims: object) -> str:
    """A JWT signed with `keys`, with exactly these claims (py_vapid's own checks skipped)."""
    signed = jwt.sign(claims, keys._vapid.private_key)
    return f"vapid t={signed},k={keys.public_key}"


async def post(service: SimPushService, url: str, body: bytes, hdrs: dict[str, str]):
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers=hdrs) as response,
    ):
        return response.status, response.headers.get("Retry-After")


async def test_a_good_push_is_created_and_handed_decrypted_to_the_app(service, keys):
    phone = Phone(service, keys)
    auth = keys.authorization(service.origin)
    status, _ = await post(service, phone.sub.endpoint, phone.body(), headers(auth))
    assert status == 201
    (message,) = phone.got
    assert message.payload["type"] == "x"
    assert (message.ttl, message.urgency, message.topic) == (30, "high", "abc")


async def test_vapid_refusals_are_401_and_403(service, keys, tmp_path: Path):
    phone = Phone(service, keys)
    other = VapidKeys.load(tmp_path / "b", "mailto:ops@example.com")
    now = int(time.time())
    good = {"aud": service.origin, "exp": now + 3600, "sub": "mailto:ops@example.com"}
    forged = token(other, **good).replace(f"k={other.public_key}", f"k={keys.public_key}")
    cases = [
        ("", 401),
        ("WebPush abc", 401),
        (f"vapid t=abc.def.ghi,k={keys.public_key}", 401),
        (forged, 401),  # signed by another key than `k`
        (other.authorization(service.origin), 403),  # not the subscription's key
        (token(keys, **{**good, "aud": "https://elsewhere.example"}), 403),
        (token(keys, **{**good, "exp": now - 10}), 403),
        (token(keys, **{**good, "exp": now + 25 * 3600}), 403),
        (token(keys, aud=service.origin, exp=now + 3600), 403),  # no sub
    ]
    for authorization, expected in cases:
        status, _ = await post(service, phone.sub.endpoint, phone.body(), headers(authorization))
        assert status == expected, authorization
    assert phone.got == []


async def test_header_size_and_subscription_refusals(service, keys):
    phone = Phone(service, keys)
    auth = keys.authorization(service.origin)
    url = phone.sub.endpoint
    no_ttl = headers(auth)
    del no_ttl["TTL"]
    for hdrs, expected in [
        (no_ttl, 400),
        (headers(auth, TTL="soon"), 400),
        (headers(auth, Urgency="urgent"), 400),
        (headers(auth, Topic="t" * 33), 400),
        (headers(auth, Topic="a/b"), 400),
        (headers(auth, **{"Content-Encoding": "aesgcm"}), 400),
    ]:
        assert (await post(service, url, phone.body(), hdrs))[0] == expected, hdrs
    assert (await post(service, url, b"x" * 4097, headers(auth)))[0] == 413
    assert (await post(service, f"{service.origin}/push/nope", phone.body(), headers(auth)))[
        0
    ] == 404
    assert phone.got == []


async def test_faults_by_the_control_endpoint(service, keys):
    phone = Phone(service, keys)
    auth = keys.authorization(service.origin)
    url = phone.sub.endpoint

    async def fault(**body: object) -> None:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{service.origin}/control/faults", json=body) as response,
        ):
            assert response.status == 200

    await fault(down=True)
    assert (await post(service, url, phone.body(), headers(auth)))[0] == 503
    await fault(down=False, rateLimit={"retryAfter": 3, "count": 1})
    assert await post(service, url, phone.body(), headers(auth)) == (429, "3")
    assert (await post(service, url, phone.body(), headers(auth)))[0] == 201
    await fault(gone=[phone.sub.id])
    assert (await post(service, url, phone.body(), headers(auth)))[0] == 410
    assert phone.sub.id not in service.subscriptions
    assert len(phone.got) == 1


async def test_a_message_that_does_not_decrypt_is_accepted_and_dropped(service, keys):
    phone = Phone(service, keys)
    auth = keys.authorization(service.origin)
    status, _ = await post(service, phone.sub.endpoint, b"\0" * 200, headers(auth))
    assert status == 201 and phone.got == [] and service.stats["undecryptable"] == 1
