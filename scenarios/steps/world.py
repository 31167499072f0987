"""The world the Gherkin steps act on: the stack (simulated Finesse + Generic Connector), the
agents of one scenario (each with its app and its phone) and the customers' calls.

pytest-bdd runs steps synchronously; the system under test is asyncio. So one event loop runs
in a background thread for the whole test session, the stack lives on it (started once), and
each step is an `async def` wrapped by `@sync`, which runs it on that loop with a timeout.
The stack keeps running between steps, so events arrive while pytest-bdd moves on.

Every wait waits for an event (an app event, a handset event) with a timeout; nothing sleeps.
A wait that fails says what was expected, what the app shows, and the last events it saw.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import aiohttp
import parse

from mobile_sim import view
from mobile_sim.app import AppClient, AppError, Mobile, WaitTimeout
from mobile_sim.sim_control import Phone, SimControl
from scenarios.browser.app_driver import BrowserApp
from scenarios.browser.app_page import AppPage
from scenarios.browser.chromium import launch, phone_context
from scenarios.stack.app_lab import AppLab
from scenarios.stack.connector_lab import (
    PASSWORD,
    ConnectorLab,
    default_dial_number,
    default_extension,
)
from scenarios.stack.finesse_lab import FinesseAgent

log = logging.getLogger("scenarios.steps")
P = ParamSpec("P")
T = TypeVar("T")

WAIT = 5.0  # default for "the app shows ...": generous, the usual answer takes milliseconds
STEP_TIMEOUT = 30.0  # a whole step, as a last resort against a hang
MODES = ("CALL_BY_CALL", "NAILED_CONNECTION", "desk")
FIRST_CUSTOMER = 15550101  # customers call from +15550101, +15550102, ...


@parse.with_pattern(r"callVariable(?:10|[1-9])|user\.\S+")
def call_variable(text: str) -> str:
    return text


# Types for `parsers.parse(..., extra_types=TYPES)`: `{variable:Var}` matches a call variable
# name only (callVariable1-10, ECC user.*), so "with these call variables:" stays distinct.
TYPES = {"Var": call_variable}


# -- one event loop in a background thread ---------------------------------------------------


class LoopThread:
    """An asyncio loop running forever in a daemon thread; `run` submits a coroutine."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="scenario-loop", daemon=True)
        self.thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = STEP_TIMEOUT) -> T:
        __tracebackhide__ = True
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            if future.done():
                raise  # the coroutine itself raised TimeoutError
            future.cancel()
            raise TimeoutError(f"the step did not finish within {timeout:g}s") from None

    def stop(self) -> None:
        if self.loop.is_closed():
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(cancel_all(), 10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


_loop: LoopThread | None = None


def loop_thread() -> LoopThread:
    global _loop
    if _loop is None or _loop.loop.is_closed():
        _loop = LoopThread()
    return _loop


def sync(fn: Callable[P, Awaitable[T]] | None = None, *, timeout: float = STEP_TIMEOUT) -> Any:
    """Make an `async def` step a plain function that runs it on the scenario loop.

    `functools.wraps` keeps the signature, so pytest-bdd still injects fixtures and parsed
    arguments. Use it under the step decorator: `@when(...)` then `@sync` then `async def`.
    """

    def wrap(func: Callable[P, Awaitable[T]]) -> Callable[P, T]:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"@sync wraps an async def, not {func!r}")

        @functools.wraps(func)
        def runner(*args: P.args, **kwargs: P.kwargs) -> T:
            __tracebackhide__ = True
            return loop_thread().run(func(*args, **kwargs), timeout)

        return runner

    return wrap(fn) if fn is not None else wrap


# -- the stack: simulator and connector, once per test session ----------------------------------


class Stack:
    """The simulated Finesse and the Generic Connector, in this process on loopback ports
    (`scenarios.stack`), plus the simulator's control API as the harness sees it."""

    def __init__(self) -> None:
        self.lab: ConnectorLab | None = None
        self.sim: SimControl | None = None
        self.http: aiohttp.ClientSession | None = None
        # The browser driver's part, started by the first scenario run in the browser.
        self.app_lab: AppLab | None = None
        self.playwright: Any = None
        self.chromium: Any = None

    async def start(self) -> Stack:
        self.lab = await ConnectorLab(push=True).start()
        self.http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self.sim = SimControl(self.lab.finesse.url("/sim/v1"), http=self.http)
        return self

    async def browser(self) -> tuple[Any, AppLab]:
        """Chromium and the Mobile App Server in front of the connector, started once."""
        if self.chromium is None:
            from playwright.async_api import async_playwright

            self.app_lab = await AppLab(self.started.url("")).start()
            self.playwright = await async_playwright().start()
            self.chromium = await launch(self.playwright)
        assert self.app_lab is not None
        return self.chromium, self.app_lab

    async def stop(self) -> None:
        if self.chromium is not None:
            await self.chromium.close()
            await self.playwright.stop()
        if self.app_lab is not None:
            await self.app_lab.stop()
        if self.http is not None:
            await self.http.close()
        if self.lab is not None:
            await self.lab.stop()

    @property
    def started(self) -> ConnectorLab:
        assert self.lab is not None, "the stack is not started"
        return self.lab

    @property
    def connector_url(self) -> str:
        return self.started.url("/api/v1")

    def finesse_agent(self, agent_id: str, password: str = PASSWORD) -> FinesseAgent:
        """REST as the agent (HTTP Basic), to GET what Finesse holds."""
        agent = self.started.finesse.agent(agent_id)
        agent.password = password
        return agent

    async def sessions(self) -> int:
        return int((await self.started.api("GET", "/healthz")).body["sessions"])


# -- one scenario's agents and calls ----------------------------------------------------------


@dataclass
class Agent:
    """One agent of the scenario: its app, the phone in its hand and its Finesse view."""

    id: str
    mode: str  # CALL_BY_CALL | NAILED_CONNECTION | desk
    extension: str
    dial_number: str
    app: AppClient
    finesse: FinesseAgent
    phone: Phone | None = None
    old_token: str = ""  # the token of the last logout, to check it was revoked

    @property
    def mobile(self) -> Mobile | None:
        return None if self.mode == "desk" else Mobile(self.mode, self.dial_number)

    @property
    def me(self) -> tuple[str, ...]:
        """The addresses of the agent's own participant in a dialog: its extension (the LCP
        DN of a mobile agent)."""
        return (self.extension,)

    @property
    def phone_number(self) -> str:
        """The handset that rings: the dial number of a mobile agent, else the desk phone."""
        return self.extension if self.mode == "desk" else self.dial_number


@dataclass
class CustomerCall:
    id: str
    caller: str
    dn: str
    variables: dict[str, str]


@dataclass
class Attempt:
    """The outcome of a "tries to" step, for the "it is refused/accepted" steps after it."""

    what: str
    error: AppError | None = None
    result: Any = None


class World:
    """What one scenario built; `cleanup()` leaves the stack as the next scenario needs it."""

    def __init__(self, stack: Stack, driver: str = "api") -> None:
        self.stack = stack
        self.driver = driver  # "api": the apps are API clients; "browser": the real app
        self.contexts: list[Any] = []  # the browser profiles, one per agent
        self.agents: dict[str, Agent] = {}
        self.calls: list[CustomerCall] = []
        self.attempt: Attempt | None = None
        self.clock_changed = False

    @property
    def sim(self) -> SimControl:
        assert self.stack.sim is not None
        return self.stack.sim

    # -- agents -----------------------------------------------------------------------------

    def agent(self, agent_id: str) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise AssertionError(
                f"agent {agent_id} is not part of this scenario: sign it in first, e.g. "
                "'Given these agents are logged in through the app:'"
            ) from None

    async def new_agent(
        self,
        agent_id: str,
        mode: str = "CALL_BY_CALL",
        dial_number: str = "",
        extension: str = "",
        *,
        with_phone: bool = True,
    ) -> Agent:
        if mode not in MODES:
            raise AssertionError(f"mode {mode!r}: use one of {', '.join(MODES)}")
        known = self.agents.get(agent_id)
        if known is not None:  # signing in again, maybe with other details
            known.mode = mode
            known.extension = extension or default_extension(agent_id)
            known.dial_number = dial_number or (
                default_dial_number(agent_id) if mode != "desk" else ""
            )
            if known.phone is not None and known.phone.number != known.phone_number:
                await known.phone.close()
                known.phone = None
            if with_phone and known.phone is None:
                known.phone = await self.sim.phone(known.phone_number).open()
            return known
        agent = Agent(
            id=agent_id,
            mode=mode,
            extension=extension or default_extension(agent_id),
            dial_number=dial_number or (default_dial_number(agent_id) if mode != "desk" else ""),
            app=await self._new_app(),
            finesse=self.stack.finesse_agent(agent_id),
        )
        agent.app.agent_id = agent_id
        self.agents[agent_id] = agent
        if with_phone:
            agent.phone = await self.sim.phone(agent.phone_number).open()
        return agent

    async def _new_app(self) -> AppClient:
        if self.driver == "api":
            return AppClient(self.stack.connector_url, http=self.stack.http)
        chromium, app_lab = await self.stack.browser()
        context = await phone_context(chromium)
        self.contexts.append(context)
        page = await AppPage.open(context, app_lab.url)
        return BrowserApp(page, self.stack.connector_url, http=self.stack.http)

    async def sign_in(
        self, agent: Agent, password: str = PASSWORD, *, setup_call: str = "answer"
    ) -> dict[str, Any]:
        """Log in through the app. A NAILED_CONNECTION login completes only once the setup
        call is answered on the phone: the login runs as a task while the phone rings and
        the agent answers it (`setup_call="reject"` declines it). A login refused before
        any ring (wrong password, not a device) raises at once."""
        if agent.mode != "NAILED_CONNECTION":
            body = await agent.app.login(agent.id, password, agent.extension, agent.mobile)
            return body
        phone = agent.phone
        assert phone is not None
        login = asyncio.ensure_future(
            agent.app.login(agent.id, password, agent.extension, agent.mobile)
        )
        ring = asyncio.ensure_future(phone_reaches(phone, "ring"))
        try:
            await asyncio.wait({login, ring}, return_when=asyncio.FIRST_COMPLETED)
            if not login.done():
                ring.result()  # the setup call rings (or the wait's error)
                if setup_call == "answer":
                    await phone.answer()
                    await phone_reaches(phone, "connected")
                else:
                    await phone.reject()
            body = await asyncio.wait_for(login, WAIT)
        finally:
            for task in (login, ring):
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
        return body

    async def try_(self, what: str, action: Awaitable[Any]) -> Attempt:
        """Run an app request that may be refused; keep the outcome for the next step."""
        try:
            self.attempt = Attempt(what, result=await action)
        except AppError as exc:
            self.attempt = Attempt(what, error=exc)
        return self.attempt

    # -- customers ----------------------------------------------------------------------------

    async def customer_calls(self, dn: str, variables: dict[str, str] | None = None) -> str:
        caller = f"+{FIRST_CUSTOMER + len(self.calls)}"
        call_id = await self.sim.place_call(dn, caller, dict(variables or {}))
        self.calls.append(CustomerCall(call_id, caller, dn, dict(variables or {})))
        return call_id

    @property
    def call(self) -> CustomerCall:
        if not self.calls:
            raise AssertionError("no customer has called yet in this scenario")
        return self.calls[-1]

    @property
    def customers(self) -> list[str]:
        return [c.caller for c in self.calls]

    async def speed(self, factor: float) -> None:
        await self.sim.set_speed(factor)
        self.clock_changed = True

    # -- end of scenario ----------------------------------------------------------------------

    async def cleanup(self) -> None:
        """Reset the simulator (everyone logged out, no calls), let every app see the
        connector end its session, close apps and phones. The connector must then hold no
        session at all: a stale one fails the scenario's teardown."""
        problems: list[str] = []
        push = self.stack.started.push
        if push is not None:
            push.clear_faults()
        try:
            if self.clock_changed:
                await self.sim.set_speed(1)
            await self.sim.reset()
        except Exception as exc:  # keep cleaning up
            problems.append(f"simulator reset: {exc!r}")
        for agent in self.agents.values():
            if not agent.app.token:
                continue
            try:
                # The reset logs everyone out in Finesse: the connector ends each session
                # by itself (`session.ended`, logged_out).
                await until(agent, lambda a=agent: a.app.ended, "session.ended")
            except (AppError, AssertionError, OSError, aiohttp.ClientError) as exc:
                problems.append(f"agent {agent.id} logout: {exc}")
        for agent in self.agents.values():
            if isinstance(agent.app, BrowserApp) and agent.app.page.problems:
                problems.append(f"agent {agent.id}'s app: {agent.app.page.problems}")
            with contextlib.suppress(Exception):
                await agent.app.close()
            if agent.phone is not None:
                with contextlib.suppress(Exception):
                    await agent.phone.close()
        for context in self.contexts:
            with contextlib.suppress(Exception):
                await context.close()
        agents = self.stack.started.connector.agents
        agents.failures.clear()  # a fresh start for the sign-in limits, like the simulator's
        agents.reconcile_every(0)
        left = await self.stack.sessions()
        if left:
            problems.append(f"the connector still holds {left} session(s) after the scenario")
            connector = self.stack.started.connector
            for link in list(connector.agents.links.values()):  # leave a clean stack
                with contextlib.suppress(Exception):
                    await connector.agents.sign_out(link)
        if problems:
            raise AssertionError("scenario clean-up: " + "; ".join(problems))


# -- waits --------------------------------------------------------------------------------------


def app_view(agent: Agent) -> str:
    """What the app shows now, in one line (for failure messages)."""
    return agent.app.describe()


def last_events(agent: Agent) -> str:
    return agent.app.recent_events()


async def until(
    agent: Agent,
    check: Callable[[], T],
    what: str,
    timeout: float = WAIT,
) -> T:
    """Wait until `check()` on the app's mirror (agent, dialogs) is truthy, re-checked at
    every event the app receives; fail with what the app shows and saw."""
    found = await agent.app.wait_until(check, timeout)
    if not found:
        raise WaitTimeout(
            f"agent {agent.id}: expected the app to show {what} within {timeout:g}s; "
            f"it shows {app_view(agent)}; last events: {last_events(agent)}"
        )
    return found


async def finesse_until(
    agent: Agent,
    fetch: Callable[[], Awaitable[T]],
    check: Callable[[T], bool],
    what: str,
    describe: Callable[[T], str] = repr,
    timeout: float = WAIT,
) -> T:
    """GET from Finesse until `check` holds. Finesse changes reach the app as events, so
    the GET is repeated at each event the agent's app receives (no polling); a Finesse that
    changed without the app hearing of it fails here, as it should."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        changed = agent.app.next_change()
        value = await fetch()
        if check(value):
            return value
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(
                f"Finesse: expected {what} for agent {agent.id} within {timeout:g}s; "
                f"Finesse holds {describe(value)}; the app shows {app_view(agent)}; "
                f"last events: {last_events(agent)}"
            )
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
        # lands as the wait completes (CPython gh-86296).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remaining):
                await changed.wait()


PHONE_STATES = ("ring", "connected", "held", "ended")


def phone_now(phone: Phone) -> str:
    """The handset's latest call event (ring, connected, held or ended), "" if none."""
    for event in reversed(phone.events):
        if event.get("event") in PHONE_STATES:
            return str(event["event"])
    return ""


async def phone_reaches(phone: Phone, event: str, timeout: float = WAIT) -> None:
    """Wait until the handset's latest call event is `event` ("the phone rings" is true
    while it rings, whether or not a step already saw the ring). Older unconsumed events
    of that kind are dropped first, so a ring of an earlier call never passes for this one."""
    latest = phone_now(phone)
    while True:  # drain: wait_for with no time left only takes what is already there
        try:
            await phone.wait_for(event, 0)
        except WaitTimeout:
            break
    if latest != event:
        await phone.wait_for(event, timeout)


def explain_world(world: World) -> str:
    """Every agent's app view and last events: added to a failing step's error."""
    lines = []
    for agent in world.agents.values():
        phone = ""
        if agent.phone is not None:
            seen = ", ".join(str(e.get("event")) for e in agent.phone.events[-6:]) or "nothing"
            phone = f"; phone {agent.phone.number}: {seen}"
        lines.append(
            f"agent {agent.id} ({agent.mode}): the app shows {app_view(agent)}; "
            f"last events: {last_events(agent)}{phone}"
        )
    return "\n".join(lines)


# -- dialogs, as the app shows them and as Finesse holds them ------------------------------------


def own(agent: Agent, dialog: dict[str, Any]) -> dict[str, Any] | None:
    """The agent's own participant (see `Agent.me`)."""
    return view.my_participant(dialog, agent.me)


def the_call(world: World, agent: Agent, dialogs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """ "The call" of an agent: its dialog with the latest customer (whatever its id became
    after a transfer or a conference), else its only dialog."""
    for caller in reversed(world.customers):
        with_customer = [d for d in dialogs if view.participant(d, caller)]
        if with_customer:
            plain = [d for d in with_customer if d.get("callType") != "CONSULT"]
            return (plain or with_customer)[-1]
    return dialogs[0] if len(dialogs) == 1 else None


def consult_call(dialogs: list[dict[str, Any]]) -> dict[str, Any] | None:
    consults = [d for d in dialogs if d.get("callType") == "CONSULT"]
    return consults[-1] if consults else None


def app_dialogs(agent: Agent) -> list[dict[str, Any]]:
    return list(agent.app.dialogs.values())


async def finesse_dialogs(agent: Agent) -> list[dict[str, Any]]:
    """GET /finesse/api/User/{id}/Dialogs as the agent, in the app's JSON shape (the same
    `dialog_data` the connector uses), with the agent's own participant's actions."""
    from connector.session.events import dialog_data

    dialogs = await agent.finesse.get_dialogs()
    out = []
    for dialog in dialogs:
        mine = dialog.participant(agent.extension)
        out.append(dialog_data(dialog, list(mine.actions) if mine else []))
    return out


def describe_dialogs(dialogs: list[dict[str, Any]]) -> str:
    if not dialogs:
        return "no dialog"
    return "; ".join(view.describe_dialog(d, actions=False) for d in dialogs)


def describe_user(user: Any) -> str:
    if user is None:
        return "nothing"
    bits = [f"state {user.state}"]
    if user.pending_state:
        bits.append(f"pending {user.pending_state}")
    if user.reason_code is not None:
        bits.append(f"reason {user.reason_code.label!r} (code {user.reason_code.code})")
    elif user.reason_code_id:
        bits.append(f"reasonCodeId {user.reason_code_id}")
    if user.mobile_agent is not None:
        bits.append(f"mobile {user.mobile_agent.mode} {user.mobile_agent.dial_number}")
    return ", ".join(bits)


async def on_screen(
    agent: Agent, *, state: str = "", call: str = "", wrap_up: bool = False
) -> None:
    """In a scenario run in the browser, what the API view says must also be on the app's
    screen: the agent's state, a call card by its title, the wrap-up choices."""
    app = agent.app
    if not isinstance(app, BrowserApp):
        return
    if state:
        await app.shows_state(state)
    if call:
        await app.shows_call(call)
    if wrap_up:
        await app.shows_wrap_up()
