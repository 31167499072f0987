"""One simulated agent working a shift: the app (`mobile_sim.app`) in one hand, the handset
(`mobile_sim.sim_control`) in the other, a persona (`mobile_sim.personas`) deciding.

The agent is reactive. Each step reads what the app shows (`app.agent`, `app.dialogs`, kept
current by the event stream) and does what a person would do next: answer what rings, talk
(maybe hold, consult, transfer, conference), end the call, pick a wrap-up reason, go READY,
take a NOT_READY break. So whatever happened meanwhile (a customer hung up, ring-no-answer,
a colleague's consult, a missed event), the next step starts from the app's view again.

Time. Persona durations are seconds of *shift time*; `time_scale` turns them into wall
seconds (0.05: a 30 s call takes 1.5 s). Think and talk time is behaviour, not settling: it
is waited with asyncio (`_pause`), and cut short when the call it belongs to ends or the
shift is told to stop. What a request should cause (the event that shows it) is awaited
with `timeout` wall seconds, whatever the scale; a wait that times out is counted, the view
is re-synced from a fresh stream snapshot, and the shift goes on. Nothing waits forever.

Counts (`Tally`): calls answered, holds, consults, transfers, conferences, breaks; mis-taps
whose 409 `action_not_allowed` is an *expected refusal*; *races* (a refusal explained by a
change the app saw right after, e.g. the customer hung up as the agent pressed HOLD);
*errors* and *timeouts*, the unexpected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import aiohttp

from mobile_sim.app import AppClient, AppError, Mobile, WaitTimeout
from mobile_sim.personas import Behaviour, BreakKind, CallPlan, Persona
from mobile_sim.sim_control import SimControl

log = logging.getLogger("mobile_sim.agent")

# Participant states (Finesse's vocabulary, as the app shows them).
ALERTING, ACTIVE, HELD, FAILED = "ALERTING", "ACTIVE", "HELD", "FAILED"
INITIATING, INITIATED, WRAP_UP = "INITIATING", "INITIATED", "WRAP_UP"
LIVE = frozenset({ACTIVE, HELD, INITIATING, INITIATED, FAILED})
WRAP_UP_STATES = frozenset({"WORK", "WORK_READY"})
RONA_CODES = frozenset({"32767", "32763"})  # ring-no-answer system codes, UCCE and UCCX
MODES = ("CALL_BY_CALL", "NAILED_CONNECTION", "DESK")
EVENT_TYPES = (
    "agent.state",
    "dialog.created",
    "dialog.updated",
    "dialog.ended",
    "session.resync",
    "system.status",
    "error",
)
# Refusals that a change of situation between deciding and asking can explain.
RACE_TYPES = frozenset({"action_not_allowed", "not_found", "Not Found", "Invalid State"})
MAX_CRASHES = 20
MAX_RELOGINS = 3


@dataclass(frozen=True)
class Identity:
    """Who signs in, and where: `mode` is CALL_BY_CALL, NAILED_CONNECTION or DESK."""

    agent_id: str
    extension: str
    dial_number: str = ""
    mode: str = "CALL_BY_CALL"
    password: str = "password"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.mode != "DESK" and not self.dial_number:
            raise ValueError(f"{self.mode} needs a dial number")


@dataclass
class Tally:
    answered: int = 0  # customer calls answered (routed, transferred or blind-transferred)
    consults_answered: int = 0  # a colleague's consult calls answered
    missed: int = 0  # rang, but gone before the answer (customer hung up, ring-no-answer)
    ring_no_answer: int = 0
    wrap_ups: int = 0
    holds: int = 0
    consults: int = 0  # consult calls placed
    consults_unanswered: int = 0  # the colleague did not answer in time (or was busy)
    transfers: int = 0
    conferences: int = 0
    blind_transfers: int = 0
    customer_hangups: int = 0
    breaks: int = 0
    mistaps: int = 0
    backgrounded: int = 0
    resumes: int = 0  # event stream resumed by `since` after a drop
    resyncs: int = 0  # fresh snapshots after a wait timed out
    relogins: int = 0
    no_colleague: int = 0  # wanted a colleague, none READY
    expected_refusals: Counter[str] = field(default_factory=Counter)
    races: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    timeouts: Counter[str] = field(default_factory=Counter)

    @property
    def unexpected(self) -> int:
        return sum(self.errors.values()) + sum(self.timeouts.values())

    def add(self, other: Tally) -> None:
        for f in fields(self):
            mine = getattr(self, f.name)
            if isinstance(mine, Counter):
                mine.update(getattr(other, f.name))
            else:
                setattr(self, f.name, mine + getattr(other, f.name))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Counter):
                value = dict(sorted(value.items()))
            out[_camel(f.name)] = value
        out["unexpected"] = self.unexpected
        return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


class SimulatedAgent:
    """Works one shift: `await agent.run()` signs in, works until `stop()`, signs out."""

    def __init__(
        self,
        identity: Identity,
        persona: Persona,
        *,
        app: AppClient,
        sim: SimControl,
        seed: int | str = 0,
        time_scale: float = 1.0,
        timeout: float = 5.0,
        login_timeout: float = 40.0,
        shutdown_timeout: float = 20.0,
        colleagues: Callable[[], Sequence[SimulatedAgent]] = tuple,
        on_call_seen: Callable[[str], None] | None = None,
        on_call_answered: Callable[[str], None] | None = None,
        login_gate: asyncio.Semaphore | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.identity = identity
        self.persona = persona
        self.behaviour = Behaviour(persona, seed, identity.agent_id)
        self.app = app
        self.sim = sim
        self.time_scale = time_scale
        self.timeout = timeout
        self.login_timeout = login_timeout
        self.shutdown_timeout = shutdown_timeout
        self.request_timeout = max(timeout * 3, 15.0)
        self.colleagues = colleagues
        self.on_call_seen = on_call_seen
        self.on_call_answered = on_call_answered
        self.login_gate = login_gate
        self.tally = Tally()
        self.phase = "waiting"  # waiting, logging in, working, signing out, logged out, failed
        self.signed_in = False  # a login succeeded (at least once)
        self.logged_out = False
        self.name = ""
        self._stop = asyncio.Event()
        self._t0 = 0.0
        self._plans: dict[str, CallPlan] = {}
        self._conversed: set[str] = set()
        self._break: tuple[BreakKind, float] | None = None  # (kind, ends at shift time)
        self._next_break_at = 0.0
        self._last_rona = ""
        self._reason_ids: dict[str, str] = {}
        self._logout_reason: str | None = None
        self._wrap_up_labels: list[str] = []
        self._crashes = 0

    # -- what others see ------------------------------------------------------------------

    @property
    def agent_id(self) -> str:
        return self.identity.agent_id

    @property
    def extension(self) -> str:
        return self.identity.extension

    @property
    def call_control(self) -> bool:
        return self.identity.mode != "DESK"

    @property
    def agent_state(self) -> str:
        return str(self.app.agent.get("state") or "")

    @property
    def state(self) -> str:
        """For progress displays: the Finesse state while working, else the phase."""
        if self.phase in ("working", "signing out") and self.agent_state:
            return self.agent_state
        return self.phase.upper().replace(" ", "_")

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """End of shift: finish what is on the phone, NOT_READY, LOGOUT."""
        self._stop.set()

    def shift_time(self) -> float:
        return (asyncio.get_running_loop().time() - self._t0) / self.time_scale

    def summary(self) -> dict[str, Any]:
        return {
            "agentId": self.agent_id,
            "name": self.name,
            "persona": self.persona.name,
            "mode": self.identity.mode,
            "extension": self.extension,
            "signedIn": self.signed_in,
            "loggedOut": self.logged_out,
            "phase": self.phase,
            **self.tally.as_dict(),
        }

    # -- the shift ------------------------------------------------------------------------

    async def run(self) -> Tally:
        self._t0 = asyncio.get_running_loop().time()
        try:
            async with self.login_gate or contextlib.nullcontext():
                signed_in = await self._login()
            if not signed_in:
                self.phase = "failed"
                return self.tally
            self.phase = "working"
            self._next_break_at = self.behaviour.next_break_in()
            while not self._stop.is_set():
                await self._guarded(self._step)
            self.phase = "signing out"
            await self._sign_out()
        finally:
            self.tally.resumes = self.app.resumes
            if self.logged_out:
                self.phase = "logged out"
            elif self.phase != "failed":
                self.phase = "failed"
        return self.tally

    async def _guarded(self, step: Callable[[], Awaitable[Any]]) -> Any:
        """One step; whatever goes wrong is counted, never fatal (the next step re-reads
        the app's view). Returns the step's result, None if it failed."""
        try:
            return await step()
        except AppError as err:
            self.tally.errors[f"{err.status} {err.type}"] += 1
            log.warning("agent %s: %s", self.agent_id, err)
        except (aiohttp.ClientError, OSError, TimeoutError, WaitTimeout) as exc:
            self.tally.errors[type(exc).__name__] += 1
            log.warning("agent %s: %r", self.agent_id, exc)
        except Exception as exc:  # a bug here must not stop the shift (nor hide)
            self._crashes += 1
            self.tally.errors[f"crash: {type(exc).__name__}"] += 1
            log.exception("agent %s: step failed", self.agent_id)
            if self._crashes >= MAX_CRASHES:
                self._stop.set()
            await self._resync()
        return None

    async def _step(self) -> None:
        state = self.agent_state
        if not self.app.dialogs:
            self._plans.clear()
            self._conversed.clear()
        if state == "LOGOUT":
            await self._logged_out_by_finesse()
            return
        alerting = self._dialogs(ALERTING)
        if alerting:
            await self._answer(alerting[0])
            return
        live = self._dialogs(*LIVE)
        if live:
            await self._converse(live)
            return
        if self._dialogs(WRAP_UP) or state in WRAP_UP_STATES:
            await self._wrap_up()
            return
        if state == "NOT_READY":
            await self._not_ready()
            return
        if state == "READY":
            await self._idle()
            return
        # RESERVED, TALKING, HOLD (or nothing yet) with no dialog to show for it: the event
        # that explains it is on its way.
        changed = self._changed_from(self._view())
        if not await self._wait(changed, self.timeout) and not self._stop.is_set():
            await self._timed_out(f"a dialog for state {state or '?'}")

    # -- signing in and out ---------------------------------------------------------------

    async def _login(self) -> bool:
        self.phase = "logging in"
        ident = self.identity
        mobile = None if ident.mode == "DESK" else Mobile(ident.mode, ident.dial_number)
        try:
            if ident.mode == "NAILED_CONNECTION":
                body = await self._nailed_login(mobile)
            else:
                body = await asyncio.wait_for(
                    self.app.login(ident.agent_id, ident.password, ident.extension, mobile),
                    self.login_timeout,
                )
        except AppError as err:
            self.tally.errors[f"login: {err.status} {err.type}"] += 1
            log.warning("agent %s: login refused: %s", self.agent_id, err)
            return False
        except (TimeoutError, WaitTimeout, aiohttp.ClientError, OSError) as exc:
            self.tally.errors[f"login: {type(exc).__name__}"] += 1
            log.warning("agent %s: login failed: %s", self.agent_id, exc or repr(exc))
            return False
        self.signed_in = True
        agent = body.get("agent") or {}
        self.name = " ".join(x for x in (agent.get("firstName"), agent.get("lastName")) if x)
        try:  # the lists the app shows in its menus
            codes = await self.app.reason_codes("NOT_READY")
            logout_codes = await self.app.reason_codes("LOGOUT")
            wrap_ups = await self.app.wrap_up_reasons()
        except (AppError, aiohttp.ClientError, OSError) as exc:
            self.tally.errors[f"reason lists: {exc}"] += 1
            return True
        self._reason_ids = {str(c["label"]): str(c["id"]) for c in codes}
        self._logout_reason = str(logout_codes[0]["id"]) if logout_codes else None
        self._wrap_up_labels = [str(w["label"]) for w in wrap_ups]
        return True

    async def _nailed_login(self, mobile: Mobile | None) -> dict[str, Any]:
        """NAILED_CONNECTION: the login completes once the setup call to the dial number is
        answered, so the handset listens while the app signs in."""
        ident = self.identity
        phone = await self.sim.phone(ident.dial_number).open()
        login = asyncio.ensure_future(
            self.app.login(ident.agent_id, ident.password, ident.extension, mobile)
        )
        ring = asyncio.ensure_future(phone.wait_for("ring", self.login_timeout))
        try:
            await asyncio.wait(
                {login, ring}, timeout=self.login_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if ring.done() and not ring.exception():
                delay = self.persona.answer_delay.draw(self.behaviour.rng("app"))
                await self._pause(delay)
                await phone.answer()
            return await asyncio.wait_for(login, self.login_timeout)
        finally:
            await cancel_and_reap((login, ring))
            await phone.close()

    async def _logged_out_by_finesse(self) -> None:
        """Finesse shows LOGOUT mid-shift (forced logout, nailed connection lost, reset)."""
        self.tally.errors["logged out by Finesse"] += 1
        if self._stop.is_set() or self.tally.relogins >= MAX_RELOGINS:
            self._stop.set()
            return
        self.tally.relogins += 1
        if not await self._login():
            self._stop.set()
        self.phase = "working"

    async def _sign_out(self) -> None:
        """Finish what is on the phone, NOT_READY, then LOGOUT with a reason code (on UCCE
        LOGOUT is allowed only from NOT_READY). Bounded by `shutdown_timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.shutdown_timeout
        while loop.time() < deadline and not self.logged_out:
            changed = self._changed_from(self._view())
            done = await self._guarded(self._sign_out_step)
            if not done and not self.logged_out:
                await self._wait(changed, 1.0, interruptible=False)
        if not self.logged_out:
            self.tally.errors["still logged in at the end of the shift"] += 1
        await self.app.stop_listening()

    async def _sign_out_step(self) -> bool:
        state = self.agent_state
        alerting = self._dialogs(ALERTING)
        if alerting:
            return await self._answer(alerting[0], hurry=True)
        live = self._dialogs(*LIVE)
        if live:
            return await self._end_call(live[0]["id"], "drop at the end of the shift")
        for dialog in self._dialogs(WRAP_UP):
            await self._set_wrap_up_reason(dialog)
        if state in ("READY", *WRAP_UP_STATES):
            return await self._set_state("NOT_READY", self._any_not_ready_code())
        if state in ("NOT_READY", "LOGOUT"):
            ok = await self._call("LOGOUT", lambda: self.app.logout(self._logout_reason))
            self.logged_out = ok
            return ok
        return False  # RESERVED, TALKING, HOLD: wait for the dialog that explains it

    # -- ringing --------------------------------------------------------------------------

    async def _answer(self, dialog: dict[str, Any], *, hurry: bool = False) -> bool:
        did = dialog["id"]
        plan = self._plan(did)
        if self.on_call_seen is not None:
            self.on_call_seen(did)

        def ringing() -> bool:
            return self._my_state(did) == ALERTING

        if not hurry:
            await self._pause(plan.answer_delay, until=lambda: not ringing())
            if self._stop.is_set():
                return False
        if not ringing():
            self.tally.missed += 1
            return False
        if self.identity.mode == "NAILED_CONNECTION":
            ok = await self._call("ANSWER", lambda: self.app.answer(did))
        else:
            number = self.identity.dial_number if self.call_control else self.extension
            ok = await self._call("answer on the phone", lambda: self.sim.phone(number).answer())
        if not ok or not await self._expect("answered", lambda: not ringing()):
            return False
        if self._my_state(did) != ACTIVE:
            return False
        if self._dialog(did).get("callType") == "CONSULT":
            self.tally.consults_answered += 1
        else:
            self.tally.answered += 1
            if self.on_call_answered is not None:
                self.on_call_answered(did)
        return True

    # -- on a call ------------------------------------------------------------------------

    async def _converse(self, live: list[dict[str, Any]]) -> None:
        for dialog in live:
            if self._my_state(dialog["id"]) in (FAILED, INITIATING, INITIATED):
                # A call of ours that is not going anywhere (a consult left behind).
                await self._end_call(dialog["id"], "drop a stray call")
                return
        active = [d for d in live if self._my_state(d["id"]) == ACTIVE]
        if not active:
            held = live[0]["id"]
            ok = await self._call("RETRIEVE", lambda: self.app.retrieve(held))
            if ok:
                await self._expect("retrieved", lambda: self._my_state(held) != HELD)
            return
        dialog = active[0]
        did = dialog["id"]
        if dialog.get("callType") == "CONSULT":
            if dialog.get("fromAddress") == self.extension:
                await self._end_call(did, "drop a stray consult")
            else:
                await self._be_consulted(did)
            return
        if did in self._conversed:
            await self._wind_down(did)
            return
        self._conversed.add(did)
        await self._conversation(did)

    async def _conversation(self, did: str) -> None:
        plan = self._plan(did)
        if plan.background:
            await self._background()
        if not await self._talk(did, plan.talk_time * plan.first_part):
            return
        if self.call_control:
            # A person only presses what the app shows (except by mistake).
            if plan.mistap:
                await self._mistap(did)
            if (
                plan.hold_time is not None
                and self._offers(did, "HOLD")
                and not await self._hold(did, plan.hold_time)
            ):
                return
            needs = "TRANSFER_SST" if plan.collaboration == "blind" else "CONSULT_CALL"
            if plan.collaboration and self._offers(did, needs):
                left = await self._collaborate(did, plan)
                if left or not self._on(did):
                    return
        if not await self._talk(did, plan.talk_time * (1 - plan.first_part)):
            return
        if plan.customer_hangs_up and len(self._dialog(did).get("participants", ())) == 2:
            await self._customer_hangs_up(did)
        else:
            await self._end_call(did)

    async def _wind_down(self, did: str) -> None:
        """Back on a call already talked through (after a conference, say): wrap it up."""
        if await self._talk(did, 0.25 * self._plan(did).talk_time):
            await self._end_call(did)

    async def _talk(self, did: str, seconds: float) -> bool:
        """Talk for `seconds` of shift time; False if the call ended or the shift stops."""
        await self._pause(seconds, until=lambda: not self._on(did))
        return self._on(did) and not self._stop.is_set()

    async def _hold(self, did: str, seconds: float) -> bool:
        if not await self._call("HOLD", lambda: self.app.hold(did)):
            return self._on(did)
        if not await self._expect("held", lambda: self._my_state(did) != ACTIVE):
            return False
        if self._my_state(did) != HELD:
            return False
        self.tally.holds += 1
        await self._pause(seconds, until=lambda: self._my_state(did) != HELD)
        if self._my_state(did) != HELD or self._stop.is_set():
            return False  # the customer hung up on hold, or the shift ends (DROP from HELD)
        if await self._call("RETRIEVE", lambda: self.app.retrieve(did)):
            await self._expect("retrieved", lambda: self._my_state(did) != HELD)
        return self._on(did)

    async def _mistap(self, did: str) -> None:
        action = self.behaviour.mistap_action(self._dialog(did).get("actions", ()))
        if action is None:
            return
        self.tally.mistaps += 1
        accepted = await self._call(
            f"mis-tap {action}",
            lambda: self.app.action(did, action),
            expect={"action_not_allowed"},
        )
        if accepted:
            self.tally.errors[f"mis-tap {action} accepted"] += 1

    async def _background(self) -> None:
        """The app goes to the background: its event stream drops and resumes by `since`."""
        self.tally.backgrounded += 1
        await self.app.drop_stream()

    async def _customer_hangs_up(self, did: str) -> None:
        if await self._call("customer hangs up", lambda: self.sim.hang_up_call(did)):
            self.tally.customer_hangups += 1
            await self._expect("call ended", lambda: self._my_state(did) not in LIVE)

    async def _end_call(self, did: str, what: str = "DROP") -> bool:
        if self.call_control:
            ok = await self._call(what, lambda: self.app.drop(did))
        else:
            ok = await self._call(what, lambda: self.sim.phone(self.extension).hang_up())
        return ok and await self._expect(what, lambda: self._my_state(did) not in LIVE)

    async def _be_consulted(self, did: str) -> None:
        """A colleague consults us: stay on until they transfer, conference or hang up."""
        patience = self._peer_wait(3 * self._plan(did).consult_patience)

        def settled() -> bool:
            return self._my_state(did) != ACTIVE or self._dialog(did).get("callType") != "CONSULT"

        if not await self._wait(settled, patience) and not self._stop.is_set():
            await self._end_call(did, "drop a consult left waiting")

    # -- colleagues -----------------------------------------------------------------------

    def _pick_colleague(self) -> SimulatedAgent | None:
        """A colleague who is signed in and not on a call (as a team view shows them): READY,
        or NOT_READY (maybe on a break, then the consult goes unanswered)."""
        free = [
            a
            for a in self.colleagues()
            if a is not self
            and a.phase == "working"
            and not a.stopping
            and a.agent_state in ("READY", "NOT_READY")
        ]
        return self.behaviour.pick_colleague(free)

    async def _collaborate(self, did: str, plan: CallPlan) -> bool:
        """Consult, transfer, conference or blind-transfer per the plan. True if this agent
        left the call (it was transferred)."""
        colleague = self._pick_colleague()
        if colleague is None:
            self.tally.no_colleague += 1
            return False
        to = colleague.extension
        if plan.collaboration == "blind":
            ok = await self._call(
                "TRANSFER_SST",
                lambda: self.app.single_step_transfer(did, to),
                expect={"Invalid Destination"},  # the colleague got busy meanwhile
            )
            if ok and await self._expect("transferred", lambda: self._my_state(did) not in LIVE):
                self.tally.blind_transfers += 1
            return ok
        if not await self._call("CONSULT_CALL", lambda: self.app.consult(did, to)):
            return False
        self.tally.consults += 1

        def consult_id() -> str:
            for cid, d in self.app.dialogs.items():
                if (
                    cid != did
                    and d.get("callType") == "CONSULT"
                    and d.get("fromAddress") == self.extension
                ):
                    return cid
            return ""

        if not await self._expect(
            "consult dialog", lambda: bool(consult_id()) or self._my_state(did) not in LIVE
        ):
            return False
        cid = consult_id()
        if not cid:
            return False  # the customer hung up while held: the next step tidies up

        def answered() -> bool:
            return self._my_state(cid) == ACTIVE

        def settled() -> bool:
            return answered() or self._my_state(cid) not in (INITIATING, INITIATED)

        await self._wait(settled, self._peer_wait(plan.consult_patience))
        if answered():
            await self._pause(
                plan.consult_talk, until=lambda: not answered() or self._my_state(did) != HELD
            )
            if answered() and self._my_state(did) == HELD and not self._stop.is_set():
                if plan.collaboration == "transfer":
                    return await self._complete(did, "TRANSFER")
                if plan.collaboration == "conference":
                    await self._complete(did, "CONFERENCE")
                    return False
        else:
            self.tally.consults_unanswered += 1
        if self._my_state(cid) in LIVE:
            await self._end_call(cid, "drop the consult")
        if (
            self._my_state(did) == HELD
            and not self._stop.is_set()
            and await self._call("RETRIEVE", lambda: self.app.retrieve(did))
        ):
            await self._expect("retrieved", lambda: self._my_state(did) != HELD)
        return False

    async def _complete(self, did: str, action: str) -> bool:
        """TRANSFER or CONFERENCE once the original call offers it; True if transferred."""
        if not await self._expect(
            f"{action} offered",
            lambda: action in self._dialog(did).get("actions", ()) or self._my_state(did) != HELD,
        ):
            return False
        if action not in self._dialog(did).get("actions", ()):
            return False
        if not await self._call(action, lambda: self.app.action(did, action)):
            return False
        if action == "TRANSFER":
            if await self._expect("transferred", lambda: self._my_state(did) not in LIVE):
                self.tally.transfers += 1
            return True
        if await self._expect("conferenced", lambda: self._my_state(did) != HELD):
            self.tally.conferences += 1
        return False

    # -- after the call and between calls ---------------------------------------------------

    async def _wrap_up(self) -> None:
        wraps = self._dialogs(WRAP_UP)
        seconds = (
            self._plan(wraps[0]["id"]).wrap_up_time if wraps else self.persona.wrap_up_time.typical
        )

        def over() -> bool:  # the wrap-up timer ended it, or something rings
            return bool(self._dialogs(ALERTING)) or (
                not self._dialogs(WRAP_UP) and self.agent_state not in WRAP_UP_STATES
            )

        await self._pause(seconds, until=over)
        if self._stop.is_set() or self._dialogs(ALERTING):
            return
        for dialog in self._dialogs(WRAP_UP):
            await self._set_wrap_up_reason(dialog)
        if self.agent_state in WRAP_UP_STATES:
            self.tally.wrap_ups += 1
            if self._break_due():
                await self._start_break()
            else:
                await self._set_state("READY")
        elif self._dialogs(WRAP_UP) and not await self._wait(
            lambda: not self._dialogs(WRAP_UP), self.timeout
        ):
            # The state moved on, so the dialog's DELETE must follow.
            await self._timed_out("wrap-up dialog to end")

    async def _set_wrap_up_reason(self, dialog: dict[str, Any]) -> None:
        did = dialog["id"]
        if dialog.get("wrapUpReason") or "UPDATE_CALL_DATA" not in dialog.get("actions", ()):
            return
        preferred = self._plan(did).wrap_up_reason
        labels = self._wrap_up_labels
        label = preferred if preferred in labels or not labels else labels[0]
        if await self._call(
            "UPDATE_CALL_DATA", lambda: self.app.update_call_data(did, wrap_up_reason=label)
        ):
            await self._expect(
                "wrap-up reason",
                lambda: did not in self.app.dialogs or bool(self._dialog(did).get("wrapUpReason")),
            )

    async def _idle(self) -> None:
        if self._break_due():
            await self._start_break()
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        until_break = max(self._next_break_at - self.shift_time(), 0.0) * self.time_scale
        await self._wait(
            lambda: self.agent_state != "READY" or bool(self.app.dialogs),
            min(until_break, 5.0),
        )
        idle_minutes = (loop.time() - started) / self.time_scale / 60
        if self.behaviour.backgrounds_while_idle(idle_minutes) and not self._stop.is_set():
            await self._background()

    def _break_due(self) -> bool:
        return self.shift_time() >= self._next_break_at

    async def _start_break(self) -> None:
        kind, length = self.behaviour.pick_break()
        code = self._reason_ids.get(kind.reason) or self._any_not_ready_code()
        if await self._set_state("NOT_READY", code) and self.agent_state == "NOT_READY":
            now = self.shift_time()
            self.tally.breaks += 1
            self._break = (kind, now + length)
            self._next_break_at = now + length + self.behaviour.next_break_in()

    async def _not_ready(self) -> None:
        if self._break is not None:
            _, ends = self._break
            await self._pause(
                ends - self.shift_time(), until=lambda: self.agent_state != "NOT_READY"
            )
            if self._stop.is_set():
                return
            self._break = None
        else:
            agent = self.app.agent
            if str(agent.get("reasonCodeId") or "") in RONA_CODES:
                mark = str(agent.get("stateChangeTime") or "")
                if mark != self._last_rona:
                    self._last_rona = mark
                    self.tally.ring_no_answer += 1
            await self._pause(
                self.behaviour.ready_delay(), until=lambda: self.agent_state != "NOT_READY"
            )
            if self._stop.is_set() or self.agent_state != "NOT_READY":
                return
        await self._set_state("READY")

    async def _set_state(self, state: str, reason_code_id: str | None = None) -> bool:
        """PUT the state and wait until the app shows it took effect (or something else
        happened to the agent first)."""
        before = self.agent_state
        if not await self._call(state, lambda: self.app.set_state(state, reason_code_id)):
            return False
        return await self._expect(
            state,
            lambda: self.agent_state != before or self.app.agent.get("pendingState") == state,
        )

    def _any_not_ready_code(self) -> str | None:
        return next(iter(self._reason_ids.values()), None)

    # -- requests and waits ---------------------------------------------------------------

    async def _call(
        self,
        what: str,
        make: Callable[[], Awaitable[Any]],
        *,
        expect: Iterable[str] = (),
    ) -> bool:
        """Make a request; True if accepted. A refusal of a kind in `expect` is an expected
        refusal; one that the app's view explains (it changed right after) is a race; any
        other failure is an error."""
        changed = self._changed_from(self._view())
        try:
            await asyncio.wait_for(make(), self.request_timeout)
            log.debug("agent %s: %s", self.agent_id, what)
            return True
        except AppError as err:
            key = f"{what}: {err.status} {err.type}"
            if err.type in set(expect):
                self.tally.expected_refusals[err.type] += 1
            elif err.type in RACE_TYPES and await self._wait(
                changed, min(self.timeout, 2.0), interruptible=False
            ):
                self.tally.races[key] += 1
            else:
                self.tally.errors[key] += 1
                log.warning("agent %s: %s refused: %s", self.agent_id, what, err)
            return False
        except TimeoutError:
            self.tally.timeouts[f"request {what}"] += 1
            return False
        except (aiohttp.ClientError, OSError) as exc:
            self.tally.errors[f"{what}: {type(exc).__name__}"] += 1
            return False

    async def _expect(self, what: str, cond: Callable[[], bool]) -> bool:
        """Wait (`timeout` wall seconds) for what a request should cause."""
        if await self._wait(cond, self.timeout, interruptible=False):
            return True
        await self._timed_out(what)
        return False

    async def _timed_out(self, what: str) -> None:
        self.tally.timeouts[what] += 1
        log.warning("agent %s: no %s within %gs", self.agent_id, what, self.timeout)
        await self._resync()

    async def _resync(self) -> None:
        """A fresh event stream: it starts with a `session.resync` snapshot of the agent and
        its dialogs, so a missed event cannot wedge the agent."""
        self.tally.resyncs += 1
        try:
            await self.app.stop_listening()
            self.app.forget()
            await self.app.listen()
            await self.app.wait_for("session.resync", timeout=self.timeout, what="a snapshot")
        except (WaitTimeout, aiohttp.ClientError, OSError, TimeoutError) as exc:
            self.tally.errors[f"resync: {type(exc).__name__}"] += 1

    async def _pause(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        """Think or talk for `seconds` of shift time (`seconds * time_scale` wall seconds),
        cut short when `until()` becomes true or the shift is told to stop."""
        await self._wait(until, max(seconds, 0.0) * self.time_scale)

    def _peer_wait(self, seconds: float) -> float:
        """How long to wait (wall seconds) for a colleague: their persona answers in shift
        time, so scale it, but allow at least a second of round trips."""
        return max(seconds * self.time_scale, 1.0)

    async def _wait(
        self,
        cond: Callable[[], bool] | None,
        timeout: float,
        *,
        interruptible: bool = True,
    ) -> bool:
        """Until `cond()` holds (checked on every event the app receives); False when
        `timeout` wall seconds pass first or, if `interruptible`, the shift stops."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if cond is not None and cond():
                return True
            if interruptible and self._stop.is_set():
                return False
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await self._next_event(remaining, interruptible)

    async def _next_event(self, timeout: float, interruptible: bool) -> None:
        """Wait for the app's next event of any type (or the stop, or the timeout)."""
        waits = {
            asyncio.ensure_future(self.app.wait_for(kind, None, timeout)): kind
            for kind in EVENT_TYPES
        }
        tasks: set[asyncio.Future[Any]] = set(waits)
        if interruptible:
            tasks.add(asyncio.ensure_future(self._stop.wait()))
        try:
            await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_reap(tasks)
        for task, kind in waits.items():
            if kind == "error" and not task.cancelled() and task.exception() is None:
                for error in task.result().get("errors", []):
                    self.tally.errors[f"async error: {error.get('type')}"] += 1

    # -- the app's view -------------------------------------------------------------------

    def _dialog(self, did: str) -> dict[str, Any]:
        return self.app.dialogs.get(did) or {}

    def _my_state(self, did: str) -> str:
        return self._mine(self._dialog(did))

    def _mine(self, dialog: dict[str, Any]) -> str:
        own = {self.extension, self.identity.dial_number} - {""}
        for p in dialog.get("participants", ()):
            if p.get("mediaAddress") in own:
                return str(p.get("state") or "")
        return ""

    def _offers(self, did: str, action: str) -> bool:
        return action in self._dialog(did).get("actions", ())

    def _on(self, did: str) -> bool:
        return self._my_state(did) == ACTIVE

    def _dialogs(self, *states: str) -> list[dict[str, Any]]:
        return [d for d in list(self.app.dialogs.values()) if self._mine(d) in states]

    def _plan(self, did: str) -> CallPlan:
        plan = self._plans.get(did)
        if plan is None:
            plan = self._plans[did] = self.behaviour.plan_call()
        return plan

    def _changed_from(self, before: tuple[Any, ...]) -> Callable[[], bool]:
        return lambda: self._view() != before

    def _view(self) -> tuple[Any, ...]:
        agent = self.app.agent
        dialogs = tuple(
            sorted(
                (
                    did,
                    str(d.get("state")),
                    self._mine(d),
                    tuple(d.get("actions", ())),
                    str(d.get("callType")),
                    len(d.get("participants", ())),
                )
                for did, d in list(self.app.dialogs.items())
            )
        )
        return (agent.get("state"), agent.get("pendingState"), dialogs)


async def cancel_and_reap(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel tasks and reap them. On Python 3.11 `asyncio.wait_for` swallows a cancel that
    lands as its inner wait completes (CPython gh-86296): such a task (an `AppClient.wait_for`
    woken by the same event) goes on waiting, so cancel again until every task is done."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.01)
    for task in tasks:  # retrieve, so no "exception was never retrieved" warnings
        if not task.cancelled():
            task.exception()
