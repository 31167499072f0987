"""Locust load test: mobile agents working a shift through the Generic Connector.

    locust -f scenarios/load/locustfile.py --host CONNECTOR_URL   (LOAD_SIM_URL=SIM_URL)

Run it with `python -m scenarios.load.run`, which starts the simulator (with a roster big
enough) and the connector first. Environment:

* `LOAD_SIM_URL`: the simulator's control API base (`http://127.0.0.1:8445`).
* `LOAD_AGENTS_PER_PROCESS`: agent ids each Locust process may take (default 10); process k
  (a worker's index, 0 when single-process) takes 1001 + k * that ... onwards.
* `LOAD_MODE_WEIGHTS`: login kinds by weight (default
  `CALL_BY_CALL=5,NAILED_CONNECTION=2,STATE_ONLY=1`).
* `--calls-per-minute` (or `LOCUST_CALLS_PER_MINUTE`): calls the TrafficUser injects.
* `--shift-seconds` (or `LOCUST_SHIFT_SECONDS`): each agent's shift; at its end the agent
  finishes its call, logs out and stops. 0 (the default): the shift ends when the run does
  (logout in on_stop). A headless distributed master quits 0.5 s after telling its workers
  to, too soon for their users' logouts; a shift shorter than the run puts them in the
  statistics.

Custom statistics beside the HTTP ones (request type `rtt` and `push`):

* `rtt <COMMAND>`: a command's round trip, from the REST request sent to the connector to the
  first app event carrying its `requestId` (an `error` event carrying it is a failure, and
  so is no event within EVENT_TIMEOUT).
* `push dialog.created`: for a routed call, the simulator's `time.monotonic()` stamped on the
  ringing handset's `ring` event (the same model step that publishes the dialog's POST
  notification) to `time.monotonic()` when the app's `dialog.created` arrives. Both run on
  one machine, and CLOCK_MONOTONIC is system-wide, so the two clocks are the same clock.
"""

import locust  # first: Locust monkey-patches with gevent before anything else loads

# isort: split
import contextlib
import itertools
import json
import os
import random
import time
from collections import deque
from typing import Any

import gevent
import websocket
from gevent.event import Event
from locust import FastHttpUser, constant, constant_pacing, events, task
from locust.runners import WorkerRunner

from mobile_sim import view
from scenarios.bench import roster

EVENT_TIMEOUT = 10.0  # seconds an expected event may take
IDLE_WAIT = 3.0  # seconds a READY agent waits for a call before considering a break
P_HOLD = 0.3
P_CONSULT = 0.25
P_TRANSFER = 0.5  # of consults
P_BREAK = 0.15
OUTSIDE_NUMBER = "+15559990000"  # an outside number answers by itself (the roster's timer)
BREAK_CODE = "1"  # NOT_READY "Break" of the default roster
LOGOUT_CODE = "3"  # LOGOUT "End of shift"
LOGOUT_ATTEMPTS = 3  # rounds of letting calls go before the logout (calls keep coming)

LIVE = ("ACTIVE", "HELD")


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    parser.add_argument(
        "--calls-per-minute",
        type=float,
        env_var="LOCUST_CALLS_PER_MINUTE",
        default=30.0,
        help="calls the TrafficUser injects into the simulator's queue (DN 8000)",
    )
    parser.add_argument(
        "--shift-seconds",
        type=float,
        env_var="LOCUST_SHIFT_SECONDS",
        default=0.0,
        help="each agent logs out and stops after this long (0: when the run stops)",
    )


def sim_url() -> str:
    return os.environ.get("LOAD_SIM_URL", "http://127.0.0.1:8445").rstrip("/")


def mode_weights() -> tuple[list[str], list[float]]:
    raw = os.environ.get("LOAD_MODE_WEIGHTS", "CALL_BY_CALL=5,NAILED_CONNECTION=2,STATE_ONLY=1")
    modes, weights = [], []
    for part in raw.split(","):
        name, _, weight = part.partition("=")
        modes.append(name.strip())
        weights.append(float(weight or 1))
    return modes, weights


_free: deque[int] | None = None
_request_ids = itertools.count(1)


@events.test_stop.add_listener
def _report_the_logouts(environment: Any, **_kw: Any) -> None:
    """A worker's last numbers (its users' logouts, made in on_stop) go to the master before
    the worker says it has stopped. Locust 2.47's worker answers `stop` with
    `client_stopped` and no final stats report, and a headless master quits well before the
    next periodic one (every 3 s), so the logouts never reached the master's statistics.
    `_send_stats` is the worker's own (private) report, pinned with the Locust version."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner._send_stats()


def take_agent(environment: Any) -> int:
    """A distinct agent index (1-based) for this process's users."""
    global _free
    if _free is None:
        per = int(os.environ.get("LOAD_AGENTS_PER_PROCESS", "10"))
        runner = environment.runner
        k = runner.worker_index if isinstance(runner, WorkerRunner) else 0
        _free = deque(range(k * per + 1, (k + 1) * per + 1))
    if not _free:
        raise locust.exception.StopUser("no free agent id left in this process's pool")
    return _free.popleft()


def fire(environment: Any, kind: str, name: str, ms: float, exc: Exception | None = None) -> None:
    environment.events.request.fire(
        request_type=kind,
        name=name,
        response_time=ms,
        response_length=0,
        exception=exc,
        context={},
    )


class EventTimeout(Exception):
    pass


class MobileAgentUser(FastHttpUser):
    """One phone app: logs in, READY, answers, holds, consults, transfers, wraps up, takes
    breaks, and logs out at the end."""

    wait_time = constant(0)

    def on_start(self) -> None:
        shift = float(getattr(self.environment.parsed_options, "shift_seconds", 0.0) or 0)
        self.shift_ends = time.monotonic() + shift if shift > 0 else float("inf")
        self.index = 0
        self.token = ""
        self.greenlets: list[gevent.Greenlet] = []
        self.sockets: list[websocket.WebSocket] = []
        self.changed = Event()
        self.agent: dict[str, Any] = {}
        self.dialogs: dict[str, dict[str, Any]] = {}
        self.seen: dict[str, tuple[float, dict[str, Any]]] = {}  # requestId -> first event
        self.rings: deque[float] = deque()  # sim monotonic of our handset's rings
        self.created: deque[float] = deque()  # our monotonic at dialog.created (alerting)
        self.index = take_agent(self.environment)
        self.agent_id = roster.agent_id(self.index)
        self.extension = roster.extension(self.index)
        self.dial_number = roster.dial_number(self.index)
        modes, weights = mode_weights()
        self.mode = random.choices(modes, weights)[0]
        self.call_control = self.mode != "STATE_ONLY"
        self.login()

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def ws_url(self, base: str, path: str) -> str:
        return base.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + path

    def spawn_reader(self, url: str, handle: Any, header: list[str] | None = None) -> None:
        ws = websocket.create_connection(url, header=header or [], timeout=EVENT_TIMEOUT)
        ws.settimeout(None)
        self.sockets.append(ws)

        def read() -> None:
            with contextlib.suppress(websocket.WebSocketException, OSError):
                while True:
                    text = ws.recv()
                    if not text:
                        return
                    handle(json.loads(text))

        self.greenlets.append(gevent.spawn(read))

    def on_app_event(self, event: dict[str, Any]) -> None:
        now = time.perf_counter()
        kind, data = event.get("type"), event.get("data") or {}
        if kind == "session.resync":
            self.agent = data.get("agent") or self.agent
            self.dialogs = {d["id"]: d for d in data.get("dialogs", [])}
        elif kind == "agent.state":
            self.agent = data
        elif kind in ("dialog.created", "dialog.updated"):
            if kind == "dialog.created" and "ANSWER" in data.get("actions", ()):
                self.created.append(time.monotonic())
                self.pair_push()
            self.dialogs[data["id"]] = data
        elif kind == "dialog.ended":
            self.dialogs.pop(data.get("id"), None)
        rid = data.get("requestId") if isinstance(data, dict) else None
        if rid and rid not in self.seen:
            self.seen[rid] = (now, event)
        self.changed.set()

    def on_phone_event(self, event: dict[str, Any]) -> None:
        if event.get("event") == "ring" and "monotonic" in event:
            self.rings.append(float(event["monotonic"]))
            self.pair_push()
        self.changed.set()

    def pair_push(self) -> None:
        while self.rings and self.created:
            ms = (self.created.popleft() - self.rings.popleft()) * 1000
            fire(self.environment, "push", "dialog.created", ms)

    def wait(self, pred: Any, timeout: float = EVENT_TIMEOUT) -> bool:
        deadline = time.monotonic() + timeout
        while not pred():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.changed.clear()
            if pred():
                return True
            self.changed.wait(remaining)
        return True

    def command(
        self, name: str, method: str, path: str, payload: dict[str, Any], race_ok: bool = False
    ) -> bool:
        """A 202 command and its round trip to the event carrying its requestId.

        `race_ok`: a 400 Invalid State is Finesse refusing a change because a call was
        routed to the agent between its look at its state and its request (READY ->
        RESERVED), a race the real app meets too. It is counted as `race <name>`, not as a
        failure; the caller works the call and tries again."""
        t0 = time.perf_counter()
        with self.client.request(
            method, path, json=payload, headers=self.auth, name=name, catch_response=True
        ) as r:
            if race_ok and r.status_code == 400 and '"Invalid State"' in (r.text or ""):
                r.success()
                fire(self.environment, "race", name, (time.perf_counter() - t0) * 1000)
                return False
            if r.status_code != 202:
                r.failure(f"{r.status_code}: {(r.text or '')[:200]}")
                return False
            rid = r.json()["requestId"]
        if not self.wait(lambda: rid in self.seen):
            fire(self.environment, "rtt", name, EVENT_TIMEOUT * 1000, EventTimeout(name))
            return False
        at, event = self.seen.pop(rid)
        if event.get("type") == "error":
            fire(self.environment, "rtt", name, (at - t0) * 1000, Exception(str(event)[:200]))
            return False
        fire(self.environment, "rtt", name, (at - t0) * 1000)
        return True

    def expect(self, what: str, pred: Any, timeout: float = EVENT_TIMEOUT) -> bool:
        if self.wait(pred, timeout):
            return True
        fire(self.environment, "event", what, timeout * 1000, EventTimeout(what))
        return False

    def action(self, did: str, action: str, **params: Any) -> bool:
        return self.command(
            action, "POST", f"/api/v1/dialogs/{did}/actions", {"action": action, **params}
        )

    def set_state(self, state: str, reason: str | None = None, race_ok: bool = False) -> bool:
        payload = {"state": state} | ({"reasonCodeId": reason} if reason else {})
        return self.command(state, "PUT", "/api/v1/agent/state", payload, race_ok)

    def sim_post(self, path: str, name: str) -> bool:
        with self.client.post(sim_url() + path, name=name, catch_response=True) as r:
            if r.status_code >= 300:
                r.failure(f"{r.status_code}: {(r.text or '')[:200]}")
                return False
        return True

    def my_state(self, dialog: dict[str, Any]) -> str:
        """The agent's own participant's state; the dialog's while it shows none."""
        return view.my_state(dialog, (self.extension,)) or str(dialog.get("state", ""))

    def alerting(self) -> dict[str, Any] | None:
        for d in list(self.dialogs.values()):
            if view.offers(d, "ANSWER") or self.my_state(d) == "ALERTING":
                return d
        return None

    def live(self) -> list[dict[str, Any]]:
        return [d for d in list(self.dialogs.values()) if self.my_state(d) in LIVE]

    # -- the shift --------------------------------------------------------------------------

    def login(self) -> None:
        payload: dict[str, Any] = {
            "agentId": self.agent_id,
            "password": roster.PASSWORD,
            "extension": self.extension,
        }
        if self.call_control:
            payload["mobile"] = {"mode": self.mode, "dialNumber": self.dial_number}
        ringing = self.dial_number if self.call_control else self.extension
        phone_path = f"/sim/v1/phones/{ringing}/events"
        if self.mode == "NAILED_CONNECTION":
            # The login completes once the setup call to the dial number is answered.
            def answer_setup(event: dict[str, Any]) -> None:
                if event.get("event") == "ring":
                    gevent.spawn(self.sim_post, f"/sim/v1/phones/{ringing}/answer", "answer")

            self.spawn_reader(self.ws_url(sim_url(), phone_path), answer_setup)
        else:
            self.spawn_reader(self.ws_url(sim_url(), phone_path), self.on_phone_event)
        with self.client.post(
            "/api/v1/sessions", json=payload, name=f"login {self.mode}", catch_response=True
        ) as r:
            if r.status_code != 201:
                r.failure(f"{r.status_code}: {(r.text or '')[:200]}")
                raise locust.exception.StopUser()
            self.token = r.json()["token"]
        self.spawn_reader(
            self.ws_url(self.host, "/api/v1/events"),
            self.on_app_event,
            [f"Authorization: Bearer {self.token}"],
        )
        labels = [w.get("label") for w in self.wrap_up_reasons()]
        self.wrap_up_labels = [str(x) for x in labels if x] or ["Resolved"]
        self.expect("resync", lambda: bool(self.agent))
        self.set_state("READY")

    def wrap_up_reasons(self) -> list[dict[str, Any]]:
        r = self.client.get("/api/v1/wrapup-reasons", headers=self.auth, name="wrapup-reasons")
        with contextlib.suppress(ValueError):
            body = r.json()
            if isinstance(body, dict):
                body = next((v for v in body.values() if isinstance(v, list)), [])
            return [w for w in body if isinstance(w, dict)]
        return []

    @task
    def shift(self) -> None:
        if self.shift_over() and not self.live():  # a ringing call is let go by log_out
            self.log_out()
            raise locust.exception.StopUser()
        if not self.wait(lambda: self.alerting() is not None, IDLE_WAIT):
            self.between_calls()
            return
        dialog = self.alerting()
        assert dialog is not None
        did = dialog["id"]
        if self.mode == "NAILED_CONNECTION":
            self.action(did, "ANSWER")
        else:
            number = self.dial_number if self.call_control else self.extension
            self.sim_post(f"/sim/v1/phones/{number}/answer", "answer on the phone")
        if not self.expect(
            "answered",
            lambda: did not in self.dialogs or self.my_state(self.dialogs[did]) != "ALERTING",
        ):
            return
        if did in self.dialogs and self.my_state(self.dialogs[did]) == "ACTIVE":
            self.converse(did)
        self.wrap_up()

    def converse(self, did: str) -> None:
        gevent.sleep(random.uniform(0.2, 0.8))
        if self.call_control and random.random() < P_HOLD and self.action(did, "HOLD"):
            gevent.sleep(random.uniform(0.1, 0.5))
            self.action(did, "RETRIEVE")
        if self.call_control and random.random() < P_CONSULT and self.consult(did):
            return  # transferred
        gevent.sleep(random.uniform(0.2, 0.8))
        if did not in self.dialogs:
            return  # the customer hung up
        if self.call_control:
            self.action(did, "DROP")
        else:
            self.sim_post(f"/sim/v1/phones/{self.extension}/hangup", "hang up the phone")
        self.expect(
            "call ended",
            lambda: did not in self.dialogs or self.my_state(self.dialogs[did]) not in LIVE,
        )

    def consult(self, did: str) -> bool:
        """Consult an outside number; transfer to it, or drop it and retrieve. True when
        transferred."""
        if not self.action(did, "CONSULT_CALL", toAddress=OUTSIDE_NUMBER):
            return False

        def consult_dialog() -> dict[str, Any] | None:
            for cid, d in list(self.dialogs.items()):
                if cid != did and d.get("callType") == "CONSULT":
                    return d
            return None

        if not self.expect(
            "consult answered",
            lambda: bool((c := consult_dialog()) and self.my_state(c) == "ACTIVE"),
        ):
            return False
        cid = str(consult_dialog()["id"])  # type: ignore[index]
        gevent.sleep(random.uniform(0.1, 0.4))
        if random.random() < P_TRANSFER:
            offered = self.expect(
                "TRANSFER offered",
                lambda: "TRANSFER" in self.dialogs.get(did, {}).get("actions", ()),
            )
            if offered and self.action(did, "TRANSFER"):
                self.expect(
                    "transferred",
                    lambda: did not in self.dialogs or self.my_state(self.dialogs[did]) not in LIVE,
                )
                return True
        if cid in self.dialogs:
            self.action(cid, "DROP")
        self.expect(
            "consult ended",
            lambda: cid not in self.dialogs or self.my_state(self.dialogs[cid]) not in LIVE,
        )
        if did in self.dialogs and self.my_state(self.dialogs[did]) == "HELD":
            self.action(did, "RETRIEVE")
        return False

    def wrap_up(self) -> None:
        self.expect(
            "after-call state",
            lambda: (
                not self.live()
                and self.agent.get("state") in ("WORK", "WORK_READY", "READY", "NOT_READY")
            ),
        )
        for d in list(self.dialogs.values()):
            if (
                self.call_control
                and "UPDATE_CALL_DATA" in d.get("actions", ())
                and not d.get("wrapUpReason")
            ):
                self.action(
                    d["id"], "UPDATE_CALL_DATA", wrapUpReason=random.choice(self.wrap_up_labels)
                )
        if self.agent.get("state") in ("WORK", "WORK_READY"):
            gevent.sleep(random.uniform(0.1, 0.5))
            self.between_calls(after_call=True)

    def shift_over(self) -> bool:
        return time.monotonic() >= self.shift_ends

    def between_calls(self, after_call: bool = False) -> None:
        if self.shift_over():
            return  # no READY again: the shift task logs out next
        state = self.agent.get("state")
        if self.alerting() is not None or state in ("RESERVED", "TALKING", "HOLD"):
            return
        if random.random() < P_BREAK:
            if state != "NOT_READY" and not self.set_state("NOT_READY", BREAK_CODE, race_ok=True):
                return  # a call came first: work it, the break can wait
            gevent.sleep(random.uniform(0.5, 1.5))
            self.set_state("READY")
        elif after_call or state == "NOT_READY":
            self.set_state("READY")

    def on_stop(self) -> None:
        try:
            if self.token:
                self.log_out()
        finally:
            for ws in self.sockets:
                with contextlib.suppress(Exception):
                    ws.close()
            gevent.killall(self.greenlets, block=False)
            if self.index and _free is not None:
                _free.append(self.index)

    def log_out(self) -> None:
        """Off the phone, NOT_READY, then LOGOUT with reason code 3. A call routed meanwhile
        (the agent was READY) is let go and the change tried again, as an agent would."""
        for _ in range(LOGOUT_ATTEMPTS):
            self.let_calls_go()
            if self.agent.get("state") == "NOT_READY":
                break
            if self.set_state("NOT_READY", BREAK_CODE, race_ok=True) and self.expect(
                "NOT_READY", lambda: self.agent.get("state") == "NOT_READY"
            ):
                break
        with self.client.request(
            "DELETE",
            "/api/v1/sessions/current",
            json={"reasonCodeId": LOGOUT_CODE},
            headers=self.auth,
            name="logout",
            catch_response=True,
        ) as r:
            if r.status_code >= 300:
                r.failure(f"{r.status_code}: {(r.text or '')[:200]}")
        self.token = ""

    def let_calls_go(self) -> None:
        """End every call on the line: a live one dropped (hung up on a desk phone), an
        alerting one answered where Finesse answers it (a nailed connection; dropped at the
        next round) or rejected on the phone that rings."""
        for d in list(self.dialogs.values()):
            mine, actions = self.my_state(d), d.get("actions", ())
            if mine == "ALERTING":
                if self.mode == "NAILED_CONNECTION" and "ANSWER" in actions:
                    self.action(d["id"], "ANSWER")
                else:
                    number = self.dial_number if self.call_control else self.extension
                    self.sim_post(f"/sim/v1/phones/{number}/reject", "reject on the phone")
            elif self.call_control and "DROP" in actions:
                self.action(d["id"], "DROP")
            elif not self.call_control and mine in LIVE:
                self.sim_post(f"/sim/v1/phones/{self.extension}/hangup", "hang up the phone")
        self.wait(lambda: not self.live() and self.alerting() is None, EVENT_TIMEOUT)


class TrafficUser(FastHttpUser):
    """One customer source: a call into queue DN 8000 every 60/calls-per-minute seconds."""

    fixed_count = 1
    host = sim_url()

    def wait_time(self) -> float:
        cpm = float(getattr(self.environment.parsed_options, "calls_per_minute", 30.0) or 0)
        return constant_pacing(60.0 / cpm)(self) if cpm > 0 else 3600.0

    @task
    def call(self) -> None:
        self.client.post(sim_url() + "/sim/v1/calls", json={"dn": "8000"}, name="inject call")
