"""Whatever an app sends, the mobile API answers the JSON error shape or a success, never
a 500 (docs/security.md): arbitrary JSON values for every field of every endpoint, and
arbitrary query strings, against a running connector and simulated Finesse.

Hypothesis drives the examples synchronously; the lab runs on an event loop of its own in
a thread, for the whole module.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Coroutine, Iterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mobile_sim.api import Mobile, bearer
from scenarios.stack.connector_lab import ConnectorLab

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

AGENT = "1009"  # the agent the authenticated endpoints act as; no example signs it in
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class LabThread:
    """A ConnectorLab on its own event loop in a thread; `run` waits for a coroutine."""

    def __init__(self, **config: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.lab = ConnectorLab(**config)
        self.run(self.lab.start())
        self.token = ""

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def stop(self) -> None:
        self.run(self.lab.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    async def signed_in(self) -> str:
        """AGENT's token, signed in again if an example signed it out."""
        if self.lab.connector.tokens.agent_of(self.token) is None:
            app, _ = await self.lab.sign_in(AGENT, Mobile("CALL_BY_CALL", "+15551230009"))
            self.token = app.token
        return self.token

    async def send(self, method: str, path: str, body: str | None, token: bool) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers |= bearer(await self.signed_in())
        http = self.lab.http
        assert http is not None
        async with http.request(method, self.lab.url(path), data=body, headers=headers) as r:
            return r.status, (await r.text(), r.content_type)


@pytest.fixture(scope="module")
def lab() -> Iterator[LabThread]:
    thread = LabThread(login_failure_limit=1000)  # failures are what the examples make
    try:
        yield thread
    finally:
        thread.stop()


def answered_well(status: int, answer: tuple[str, str]) -> None:
    text, content_type = answer
    event(f"{status} {json.loads(text)['error']['type'] if status >= 400 else ''}")
    assert status != 500, text
    if status < 400:
        return
    assert content_type == "application/json", (status, text)
    error = json.loads(text)["error"]
    assert set(error) <= {"type", "message", "field", "finesse"}
    assert isinstance(error["type"], str) and isinstance(error["message"], str)
    assert isinstance(error.get("field", ""), str)
    assert set(error.get("finesse", {})) <= {"errorType", "errorMessage", "errorData"}


# -- what an app could send ---------------------------------------------------------------

ANY_CHAR = st.characters(exclude_categories=())  # lone surrogates and controls included
TEXT = st.text(ANY_CHAR, max_size=80)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
# JSON text Python's own encoder would refuse to write: numbers of thousands of digits.
LONG_NUMBERS = st.integers(4000, 6000).map(lambda n: "9" * n)


def fragment(value: Any) -> str:
    return json.dumps(value)


FRAGMENTS = VALUES.map(fragment) | LONG_NUMBERS


def bodies(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[str]:
    """JSON objects with any subset of `fields` (each arbitrary, or a plausible value), as
    text; now and then something else (not an object, not JSON, too deep, unknown fields)."""
    members = {name: FRAGMENTS | plausible.map(fragment) for name, plausible in fields.items()}
    objects = st.fixed_dictionaries({}, optional=members).map(
        lambda d: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in d.items()) + "}"
    )
    others = st.sampled_from(["", "[]", "null", '"x"', "{", '{"a":' * 5000, '{"x": 1}'])
    return st.one_of(objects, objects, objects, others)


IDS = st.sampled_from(["1001", "1002", "5001", "+15551230001", "", "0", "-1", "1"])
QUERY = st.dictionaries(st.sampled_from(["since", "category", "token", "x"]), TEXT, max_size=3)


def query_string(query: dict[str, str]) -> str:
    return "?" + "&".join(
        f"{quote(k)}={quote(v, errors='surrogatepass')}" for k, v in query.items()
    )


# -- the endpoints --------------------------------------------------------------------------


@EXAMPLES
@given(
    body=bodies(
        {
            "agentId": IDS,
            "password": st.sampled_from(["password", "wrong"]),
            "extension": IDS,
            "mobile": st.fixed_dictionaries(
                {"mode": st.sampled_from(["CALL_BY_CALL", "NAILED_CONNECTION"]), "dialNumber": IDS}
            ),
        }
    )
)
def test_sign_in_never_fails(lab: LabThread, body: str) -> None:
    answered_well(*lab.run(lab.send("POST", "/api/v1/sessions", body, token=False)))


@EXAMPLES
@given(body=bodies({"state": st.sampled_from(["READY", "NOT_READY"]), "reasonCodeId": IDS}))
def test_setting_the_state_never_fails(lab: LabThread, body: str) -> None:
    answered_well(*lab.run(lab.send("PUT", "/api/v1/agent/state", body, token=True)))


@EXAMPLES
@given(body=bodies({"toAddress": IDS}))
def test_making_a_call_never_fails(lab: LabThread, body: str) -> None:
    answered_well(*lab.run(lab.send("POST", "/api/v1/dialogs", body, token=True)))


ACTIONS = st.sampled_from(["ANSWER", "HOLD", "DROP", "CONSULT_CALL", "SEND_DTMF", "MAKE_CALL"])


@EXAMPLES
@given(
    dialog=TEXT,
    body=bodies(
        {
            "action": ACTIONS,
            "toAddress": IDS,
            "dtmf": st.sampled_from(["1", "#"]),
            "wrapUpReason": TEXT,
            "callVariables": st.dictionaries(TEXT, TEXT, max_size=2),
        }
    ),
)
def test_dialog_actions_never_fail(lab: LabThread, dialog: str, body: str) -> None:
    path = f"/api/v1/dialogs/{quote(dialog, safe='', errors='surrogatepass')}/actions"
    answered_well(*lab.run(lab.send("POST", path, body, token=True)))


@EXAMPLES
@given(
    path=st.sampled_from(
        ["/agent", "/dialogs", "/reason-codes", "/wrapup-reasons", "/events", "/nothing"]
    ),
    query=QUERY,
)
def test_reading_with_any_query_never_fails(lab: LabThread, path: str, query: dict[str, str]):
    answered_well(*lab.run(lab.send("GET", f"/api/v1{path}{query_string(query)}", None, True)))


@EXAMPLES
@given(body=bodies({"reasonCodeId": IDS}))
def test_signing_out_never_fails(lab: LabThread, body: str) -> None:
    answered_well(*lab.run(lab.send("DELETE", "/api/v1/sessions/current", body, token=True)))


# What a browser's PushSubscription.toJSON() gives (keys of the right sizes), or near it.
P256DH = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
ENDPOINTS = st.sampled_from(
    [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/x",
        "http://127.0.0.1:9/push/x",
        "https://evil.example/x",
        "https://fcm.googleapis.com:99999/x",
        "http://[::1/x",
        "",
    ]
)


@EXAMPLES
@given(
    body=bodies(
        {
            "endpoint": ENDPOINTS | TEXT,
            "expirationTime": st.none() | st.integers() | st.floats(),
            "keys": st.fixed_dictionaries(
                {},
                optional={
                    "p256dh": st.sampled_from([P256DH, P256DH[:-2], "", "A" * 87]) | TEXT,
                    "auth": st.sampled_from(["tBHItJI5svbpez7KI4CCXg", "x"]) | TEXT,
                },
            ),
        }
    )
)
def test_subscribing_to_push_never_fails(lab: LabThread, body: str) -> None:
    answered_well(*lab.run(lab.send("POST", "/api/v1/push-subscriptions", body, token=True)))


@EXAMPLES
@given(subscription=TEXT, body=bodies({"visible": st.booleans()}))
def test_push_and_app_state_never_fail(lab: LabThread, subscription: str, body: str) -> None:
    path = f"/api/v1/push-subscriptions/{quote(subscription, safe='', errors='surrogatepass')}"
    answered_well(*lab.run(lab.send("DELETE", path, None, token=True)))
    answered_well(*lab.run(lab.send("PUT", "/api/v1/app-state", body, token=True)))
    answered_well(*lab.run(lab.send("GET", "/api/v1/push/vapid-public-key", None, token=True)))


def test_the_three_reported_inputs_are_400_naming_the_field(lab: LabThread) -> None:
    reported = [
        ("POST", "/api/v1/sessions", '{"agentId": ' + "1" * 5000 + "}", False, "agentId"),
        ("POST", "/api/v1/sessions", '{"agentId": "\\ud800"}', False, "agentId"),
        ("GET", "/api/v1/events?since=" + "1" * 5000, None, True, "since"),
    ]
    for method, path, body, token, field in reported:
        status, (text, _) = lab.run(lab.send(method, path, body, token))
        assert (status, json.loads(text)["error"]["field"]) == (400, field), text


def test_the_session_of_the_examples_is_still_served(lab: LabThread) -> None:
    """After all that, the connector still works: a sign-in and a state change."""
    status, _ = lab.run(lab.send("GET", "/api/v1/agent", None, token=True))
    assert status == 200
    assert isinstance(aiohttp.__version__, str)
