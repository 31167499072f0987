"""The connector's push parts without a network: the allowlist, the message policy and its
trimming, the subscription registry, the VAPID key pair, Retry-After, how the notifier
settles each push, the configuration."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest

from connector.config import ConfigError, load
from connector.errors import AgentError, Refusal
from connector.push import Allowlist, MemorySubscriptions, Subscription, VapidKeys
from connector.push.delivery import Delivery, retry_after
from connector.push.message import MAX_PAYLOAD, PushPolicy, dialog_topic, fit, frame_type
from connector.push.metrics import PushMetrics
from connector.push.notifier import PushNotifier
from connector.push.vapid import KeyFileError
from connector.stream import Frame

# -- the allowlist ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "origin"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com"),
        ("https://fcm.googleapis.com:443/fcm/send/abc", "https://fcm.googleapis.com"),
        (
            "https://updates.push.services.mozilla.com/wpush/v2/x",
            "https://updates.push.services.mozilla.com",
        ),
        ("https://web.push.apple.com/QGx", "https://web.push.apple.com"),
        (
            "https://wns2-par02p.notify.windows.com/w/?token=x",
            "https://wns2-par02p.notify.windows.com",
        ),
        ("http://127.0.0.1:8089/push/x", "http://127.0.0.1:8089"),
    ],
)
def test_allowed_endpoints_give_their_origin(endpoint, origin):
    allow = Allowlist(["http://127.0.0.1:8089"])
    assert allow.origin(endpoint) == origin


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://evil.example/push",
        "http://fcm.googleapis.com/fcm/send/x",  # the right host over plain http
        "https://fcm.googleapis.com:8443/x",
        "https://fcm.googleapis.com.evil.example/x",
        "https://notify.windows.com/x",  # the wildcard is for subdomains only
        "https://x.notify.windows.com:444/x",
        "https://a@fcm.googleapis.com/x",
        "http://127.0.0.1:8090/push/x",
        "http://[::1]:8089/push/x",
        "javascript:alert(1)",
        "https://fcm.googleapis.com:99999/x",
        "/relative",
    ],
)
def test_other_endpoints_are_refused_naming_the_field(endpoint):
    with pytest.raises(AgentError) as refusal:
        Allowlist(["http://127.0.0.1:8089"]).origin(endpoint)
    assert refusal.value.field == "endpoint"
    assert refusal.value.kind in (Refusal.ENDPOINT_NOT_ALLOWED, Refusal.INVALID_FIELD)


@pytest.mark.parametrize(
    "entry",
    [
        "http://push.example.com",  # plain http off loopback
        "http://10.0.0.5:8089",
        "https://push.example.com/path",
        "push.example.com",
        "https://",
    ],
)
def test_an_allowlist_entry_must_be_an_origin_and_http_only_on_loopback(entry):
    with pytest.raises(ValueError):
        Allowlist([entry])


def test_without_the_defaults_nothing_is_allowed():
    with pytest.raises(AgentError):
        Allowlist(defaults=()).origin("https://fcm.googleapis.com/x")


# -- what is pushed --------------------------------------------------------------------------


def frame(type_: str, data: dict, seq: int = 7) -> Frame:
    message = {"seq": seq, "type": type_, "data": data, "ts": 1.5}
    return Frame(seq, 1.5, json.dumps(message, separators=(",", ":")))


POLICY = PushPolicy(call_ttl=30, ttl=600)


def call(state: str = "ALERTING", **variables: str) -> dict:
    return {
        "id": "42",
        "state": state,
        "fromAddress": "+15550100",
        "queueName": "Sales",
        "callVariables": variables,
        "participants": [{"mediaAddress": "5001", "state": state, "actions": ["ANSWER"]}],
    }


def test_a_ringing_call_is_pushed_high_for_its_ring_time_with_a_topic_per_dialog():
    message = POLICY.message(frame("dialog.created", call()), set())
    assert message is not None
    assert (message.urgency, message.ttl, message.topic) == ("high", 30, dialog_topic("42"))
    assert json.loads(message.body) == json.loads(frame("dialog.created", call()).text)
    assert len(dialog_topic("x" * 500)) <= 32


@pytest.mark.parametrize(
    ("type_", "data", "pushed"),
    [
        ("dialog.created", call("INITIATING"), False),  # the agent's own outbound call
        ("dialog.updated", call(), False),
        ("agent.state", {"state": "READY"}, False),
        ("dialog.ended", {"id": "42"}, True),  # a pushed call ended: its notification goes
        ("dialog.ended", {"id": "43"}, False),
        ("session.ended", {"reason": "forced_logout"}, True),
        ("session.ended", {"reason": "logged_out"}, True),
        ("session.ended", {"reason": "signed_out"}, False),  # the app asked for it
        ("system.status", {"status": "OUT_OF_SERVICE"}, True),
        ("system.status", {"status": "IN_SERVICE"}, False),
        ("session.resync", {}, False),
    ],
)
def test_only_what_must_not_be_missed_is_pushed(type_, data, pushed):
    assert (POLICY.message(frame(type_, data), {"42"}) is not None) is pushed


def test_the_frame_type_is_read_without_parsing():
    assert frame_type(frame("dialog.created", {"note": '"type":"x"'}).text) == "dialog.created"
    assert frame_type("{}") == ""


def test_call_variables_go_first_largest_first_with_a_flag():
    variables = {f"callVariable{i}": "v" * (100 * i) for i in range(1, 10)}
    message = {"seq": 1, "type": "dialog.created", "data": call(**variables), "ts": 1.0}
    body = fit(message)
    assert len(body) <= MAX_PAYLOAD
    trimmed = json.loads(body)
    kept = trimmed["data"]["callVariables"]
    assert trimmed["trimmed"] is True and kept and "callVariable9" not in kept
    dropped = set(variables) - set(kept)
    assert max(len(variables[k]) for k in kept) < min(len(variables[k]) for k in dropped)
    assert trimmed["data"]["participants"] and trimmed["data"]["fromAddress"] == "+15550100"


def test_a_frame_that_fits_is_sent_as_it_is():
    message = {"seq": 1, "type": "dialog.created", "data": call(a="b"), "ts": 1.0}
    assert "trimmed" not in json.loads(fit(message))


def test_past_the_variables_the_participants_then_all_but_the_caller_go():
    data = call()
    data["participants"] = [{"mediaAddress": "x" * 200, "state": "ACTIVE"}] * 30
    body = json.loads(fit({"seq": 1, "type": "dialog.created", "data": data, "ts": 1.0}))
    assert body["trimmed"] and body["data"]["participants"] == []
    data["fromAddress"] = "9" * 4000
    body = json.loads(fit({"seq": 1, "type": "dialog.created", "data": data, "ts": 1.0}))
    assert body["data"] == {"id": "42"}
    assert len(fit({"seq": 1, "type": "x", "data": {"id": "9" * 5000}, "ts": 1.0})) <= 3000


# -- subscriptions ---------------------------------------------------------------------------


def sub(id_: str, agent: str = "1001", endpoint: str = "") -> Subscription:
    return Subscription(id_, agent, endpoint or f"https://p/{id_}", "https://p", b"k", b"a")


async def test_subscriptions_per_agent_capped_oldest_first_same_endpoint_same_id():
    registry = MemorySubscriptions()
    for i in range(3):
        await registry.add(sub(f"s{i}"), limit=2)
    assert [s.id for s in await registry.for_agent("1001")] == ["s1", "s2"]
    again = await registry.add(sub("new", endpoint="https://p/s1"), limit=2)
    assert again.id == "s1" and await registry.count() == 2
    await registry.add(sub("t", agent="1002"), limit=2)
    assert not await registry.remove("1002", "s2")  # another agent's
    assert await registry.remove("1001", "s2") and await registry.count() == 2
    assert await registry.drop_agent("1001") == 1 and await registry.count() == 1


# -- the VAPID key pair ----------------------------------------------------------------------


def test_the_key_pair_is_made_once_owner_only_and_kept(tmp_path: Path):
    state = tmp_path / "state"
    first = VapidKeys.load(state, "mailto:ops@example.com")
    path = state / "vapid_private.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert VapidKeys.load(state, "mailto:ops@example.com").public_key == first.public_key
    header = first.authorization("https://fcm.googleapis.com")
    assert header.startswith("vapid t=") and f"k={first.public_key}" in header
    assert first.authorization("https://fcm.googleapis.com") == header  # cached
    assert "PRIVATE" not in header and path.read_text() not in header


def test_an_operators_key_file_is_used_and_a_bad_one_refused(tmp_path: Path):
    made = VapidKeys.load(tmp_path, "mailto:a@example.com")
    given = VapidKeys.load(
        tmp_path / "elsewhere", "mailto:a@example.com", str(tmp_path / "vapid_private.pem")
    )
    assert given.public_key == made.public_key and not (tmp_path / "elsewhere").exists()
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFileError) as refusal:
        VapidKeys.load(tmp_path, "mailto:a@example.com", str(bad))
    assert "secret" not in str(refusal.value)


def test_a_token_is_renewed_before_it_expires(tmp_path: Path):
    now = [1000.0]
    keys = VapidKeys.load(tmp_path, "mailto:a@example.com")
    keys._clock = lambda: now[0]
    first = keys.authorization("https://p")
    now[0] += 11.5 * 3600  # within the last hour of 12
    assert keys.authorization("https://p") != first


# -- Retry-After and the configuration -------------------------------------------------------


def test_retry_after_in_seconds_or_an_http_date():
    assert retry_after("7", 0.0) == 7.0
    assert retry_after("Thu, 01 Jan 1970 00:00:30 GMT", 10.0) == pytest.approx(20.0)
    assert retry_after("soon", 0.0) is None and retry_after(None, 0.0) is None


@pytest.mark.parametrize(
    ("delivery", "gone", "refused"),
    [
        (Delivery("201", 0, 0.01), False, False),
        (Delivery("410"), True, False),
        (Delivery("404"), True, False),
        (Delivery("400"), False, True),
        (Delivery("413"), False, True),
        (Delivery("429", 3), False, False),  # retried until the TTL was over
        (Delivery("503", 2), False, False),
        (Delivery("timeout"), False, False),
        (Delivery("crashed"), False, False),
    ],
)
def test_how_a_push_ended_decides_what_follows(delivery, gone, refused):
    assert (delivery.gone, delivery.refused) == (gone, refused)


def test_each_delivery_is_counted_once_by_how_it_ended():
    metrics = PushMetrics()
    for delivery in (Delivery("201", 1, 0.2), Delivery("410"), Delivery("503", 2)):
        metrics.record(delivery)
    assert (metrics.sent, metrics.retried, metrics.removed) == (1, 3, 1)
    assert metrics.failed == {"410": 1, "503": 1}
    assert "connector_push_latency_seconds_count 1" in metrics.render(subscriptions=0)


class HeldSender:
    """A push service that answers each subscription's push when the test says."""

    def __init__(self) -> None:
        self.answers: dict[str, asyncio.Future[Delivery]] = {}
        self.asked = asyncio.Event()

    async def send(self, subscription: Subscription, message, started: float) -> Delivery:
        answer = self.answers[subscription.id] = asyncio.get_running_loop().create_future()
        self.asked.set()
        return await answer

    async def close(self) -> None:
        pass


async def a_call_pushed_to_phone_and_tablet(
    registry: MemorySubscriptions,
) -> tuple[PushNotifier, HeldSender]:
    """An agent's two subscriptions, a ringing call pushed to both, their answers held."""
    for id_ in ("phone", "tablet"):
        await registry.add(sub(id_), limit=4)
    notifier = PushNotifier(
        registry, VapidKeys.generate(), Allowlist(["https://p"]), POLICY, PushMetrics()
    )
    notifier.sender = sender = HeldSender()
    notifier.deliver("1001", frame("dialog.created", call()))
    async with asyncio.timeout(5):
        while len(sender.answers) < 2:
            sender.asked.clear()
            await sender.asked.wait()
    return notifier, sender


async def test_each_subscription_is_settled_when_its_push_ends_not_after_the_slowest():
    """The phone's push service forgot its subscription (410) while the tablet's retries:
    the phone's goes and is counted at once, not when the tablet's push ends."""

    class Registry(MemorySubscriptions):
        removed = asyncio.Event()

        async def remove(self, agent_id: str, subscription_id: str) -> bool:
            try:
                return await super().remove(agent_id, subscription_id)
            finally:
                self.removed.set()

    registry = Registry()
    notifier, sender = await a_call_pushed_to_phone_and_tablet(registry)
    metrics = notifier.metrics
    sender.answers["phone"].set_result(Delivery("410"))
    async with asyncio.timeout(5):
        await registry.removed.wait()
    assert [s.id for s in await registry.for_agent("1001")] == ["tablet"]
    assert not sender.answers["tablet"].done() and metrics.sent == 0
    sender.answers["tablet"].set_result(Delivery("201", 2, 1.5))
    assert await notifier.settled()
    assert (metrics.sent, metrics.retried, metrics.removed) == (1, 2, 1)


async def test_a_push_that_fails_on_one_subscription_is_logged_and_the_others_are_settled(
    caplog,
):
    notifier, sender = await a_call_pushed_to_phone_and_tablet(MemorySubscriptions())
    metrics = notifier.metrics
    sender.answers["phone"].set_exception(ValueError("a stored key that cannot be used"))
    sender.answers["tablet"].set_result(Delivery("201", 0, 0.01))
    assert await notifier.settled()
    assert metrics.sent == 1
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "subscription failed" in record.getMessage() and record.exc_info is not None


def test_push_configuration(tmp_path: Path):
    toml = tmp_path / "c.toml"
    toml.write_text('[connector]\npush_allow = ["http://127.0.0.1:8089"]\n')
    assert load(str(toml), env={}).push_allow == ("http://127.0.0.1:8089",)
    env = {"MOBAGENT_CONNECTOR_PUSH_ALLOW": "http://127.0.0.1:1, https://push.example.com"}
    assert load(env=env).push_allow == ("http://127.0.0.1:1", "https://push.example.com")
    with pytest.raises(ConfigError, match="push_allow"):
        load(env={}, overrides={"push_allow": ["http://push.example.com"]})
    with pytest.raises(ConfigError, match="vapid_subject"):
        load(env={}, overrides={"vapid_subject": "ops@example.com"})
    config = load(env={"XDG_STATE_HOME": "/x"}, overrides={"state_dir": str(tmp_path)})
    assert config.state_path == tmp_path
    assert not load(env={}).push_process
    assert load(env={"MOBAGENT_CONNECTOR_PUSH_PROCESS": "true"}).push_process
