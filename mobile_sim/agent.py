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

What the shift came to is counted in `ShiftCounts` (`mobile_sim.counts`); requests and the
waits for what they cause, refusals and races included, are `mobile_sim.requester`'s; what
the app shows is read through the app's view (`mobile_sim.view`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from mobile_sim.aio import cancel_and_reap
from mobile_sim.api import AppError, Mobile
from mobile_sim.app import AppClient
from mobile_sim.counts import ShiftCounts
from mobile_sim.identity import MODES, Identity
from mobile_sim.inbox import WaitTimeout
from mobile_sim.personas import Behaviour, BreakKind, CallPlan, Persona
from mobile_sim.push_service import SimPushService
from mobile_sim.requester import Requester
from mobile_sim.sim_control import SimControl

__all__ = ["MODES", "Identity", "ShiftCounts", "SimulatedAgent"]

log = logging.getLogger("mobile_sim.agent")

# Participant states (Finesse's vocabulary, as the app shows them).
ALERTING, ACTIVE, HELD, FAILED = "ALERTING", "ACTIVE", "HELD", "FAILED"
INITIATING, INITIATED, WRAP_UP = "INITIATING", "INITIATED", "WRAP_UP"
LIVE = frozenset({ACTIVE, HELD, INITIATING, INITIATED, FAILED})
WRAP_UP_STATES = frozenset({"WORK", "WORK_READY"})
RONA_CODES = frozenset({"32767", "32763"})  # ring-no-answer system codes, UCCE and UCCX
MAX_CRASHES = 20
MAX_RELOGINS = 3
BACK_BY_ITSELF = 120.0  # shift s: a backgrounded app with no push is looked at again


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
        push: SimPushService | None = None,
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
        self.colleagues = colleagues
        self.on_call_seen = on_call_seen
        self.on_call_answered = on_call_answered
        self.login_gate = login_gate
        self.push = push  # the push service the app subscribes at after each login
        self.counts = ShiftCounts()
        self.phase = "waiting"  # waiting, logging in, working, signing out, logged out, failed
        self.signed_in = False  # a login succeeded (at least once)
        self.logged_out = False
        self.name = ""
        self._stop = asyncio.Event()
        self.requests = Requester(
            app, self.counts, self._stop, timeout=timeout, request_timeout=max(timeout * 3, 15.0)
        )
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
        return self.identity.call_control

    @property
    def agent_state(self) -> str:
        return self.app.agent_state

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
            **self.counts.as_dict(),
        }

    # -- the shift ------------------------------------------------------------------------

    async def run(self) -> ShiftCounts:
        self._t0 = asyncio.get_running_loop().time()
        try:
            async with self.login_gate or contextlib.nullcontext():
                signed_in = await self._login()
            if not signed_in:
                self.phase = "failed"
                return self.counts
            self.phase = "working"
            self._next_break_at = self.behaviour.next_break_in()
            while not self._stop.is_set():
                await self._guarded(self._step)
            self.phase = "signing out"
            await self._sign_out()
        finally:
            self.counts.resumes = self.app.resumes
            if self.logged_out:
                self.phase = "logged out"
            elif self.phase != "failed":
                self.phase = "failed"
        return self.counts

    async def _guarded(self, step: Callable[[], Awaitable[Any]]) -> Any:
        """One step; whatever goes wrong is counted, never fatal (the next step re-reads
        the app's view). Returns the step's result, None if it failed."""
        try:
            return await step()
        except AppError as err:
            self.counts.errors[f"{err.status} {err.type}"] += 1
            log.warning("agent %s: %s", self.agent_id, err)
        except (aiohttp.ClientError, OSError, TimeoutError, WaitTimeout) as exc:
            self.counts.errors[type(exc).__name__] += 1
            log.warning("agent %s: %r", self.agent_id, exc)
        except Exception as exc:  # a bug here must not stop the shift (nor hide)
            self._crashes += 1
            self.counts.errors[f"crash: {type(exc).__name__}"] += 1
            log.exception("agent %s: step failed", self.agent_id)
            if self._crashes >= MAX_CRASHES:
                self._stop.set()
            await self.requests.resync()
        return None

    async def _step(self) -> None:
        state = self.agent_state
        if not self.app.dialogs:
            self._plans.clear()
            self._conversed.clear()
        if state == "LOGOUT":
            await self._logged_out_by_finesse()
            return
        alerting = self.app.my_dialogs(ALERTING)
        if alerting:
            await self._answer(alerting[0])
            return
        live = self.app.my_dialogs(*LIVE)
        if live:
            await self._converse(live)
            return
        if self.app.my_dialogs(WRAP_UP) or state in WRAP_UP_STATES:
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
        changed = self.requests.changed_from_now()
        if not await self.requests.wait(changed, self.timeout) and not self._stop.is_set():
            await self.requests.timed_out(f"a dialog for state {state or '?'}")

    # -- signing in and out ---------------------------------------------------------------

    async def _login(self) -> bool:
        self.phase = "logging in"
        ident = self.identity
        mobile = ident.mobile
        try:
            if ident.mode == "NAILED_CONNECTION":
                body = await self._nailed_login(mobile)
            else:
                body = await asyncio.wait_for(
                    self.app.login(ident.agent_id, ident.password, ident.extension, mobile),
                    self.login_timeout,
                )
        except AppError as err:
            self.counts.errors[f"login: {err.status} {err.type}"] += 1
            log.warning("agent %s: login refused: %s", self.agent_id, err)
            return False
        except (TimeoutError, WaitTimeout, aiohttp.ClientError, OSError) as exc:
            self.counts.errors[f"login: {type(exc).__name__}"] += 1
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
            self.counts.errors[f"reason lists: {exc}"] += 1
            return True
        if self.push is not None:
            await self._subscribe_push(self.push)
        self._reason_ids = {str(c["label"]): str(c["id"]) for c in codes}
        self._logout_reason = str(logout_codes[0]["id"]) if logout_codes else None
        self._wrap_up_labels = [str(w["label"]) for w in wrap_ups]
        return True

    async def _subscribe_push(self, push: SimPushService) -> None:
        try:
            await self.app.subscribe_push(push)
        except (AppError, aiohttp.ClientError, OSError) as exc:
            # e.g. 400 endpoint_not_allowed: the connector lacks --push-allow for the service
            self.counts.errors[f"push subscription: {exc}"] += 1
            log.warning("agent %s: no push subscription: %s", self.agent_id, exc)

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
        self.counts.errors["logged out by Finesse"] += 1
        if self._stop.is_set() or self.counts.relogins >= MAX_RELOGINS:
            self._stop.set()
            return
        self.counts.relogins += 1
        if not await self._login():
            self._stop.set()
        self.phase = "working"

    async def _sign_out(self) -> None:
        """Finish what is on the phone, NOT_READY, then LOGOUT with a reason code (on UCCE
        LOGOUT is allowed only from NOT_READY). Bounded by `shutdown_timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.shutdown_timeout
        while loop.time() < deadline and not self.logged_out:
            changed = self.requests.changed_from_now()
            done = await self._guarded(self._sign_out_step)
            if not done and not self.logged_out:
                await self.requests.wait(changed, 1.0, interruptible=False)
        if not self.logged_out:
            self.counts.errors["still logged in at the end of the shift"] += 1
        await self.app.stop_listening()

    async def _sign_out_step(self) -> bool:
        state = self.agent_state
        alerting = self.app.my_dialogs(ALERTING)
        if alerting:
            return await self._answer(alerting[0], hurry=True)
        live = self.app.my_dialogs(*LIVE)
        if live:
            return await self._end_call(live[0]["id"], "drop at the end of the shift")
        for dialog in self.app.my_dialogs(WRAP_UP):
            await self._set_wrap_up_reason(dialog)
        if state in ("READY", *WRAP_UP_STATES):
            return await self._set_state("NOT_READY", self._any_not_ready_code())
        if state in ("NOT_READY", "LOGOUT"):
            ok = await self.requests.send("LOGOUT", lambda: self.app.logout(self._logout_reason))
            self.logged_out = ok
            return ok
        return False  # RESERVED, TALKING, HOLD: wait for the dialog that explains it

    # -- ringing --------------------------------------------------------------------------

    async def _answer(self, dialog: dict[str, Any], *, hurry: bool = False) -> bool:
        dialog_id = dialog["id"]
        plan = self._plan(dialog_id)
        if self.on_call_seen is not None:
            self.on_call_seen(dialog_id)

        def ringing() -> bool:
            return self.app.my_state(dialog_id) == ALERTING

        if not hurry:
            await self._pause(plan.answer_delay, until=lambda: not ringing())
            if self._stop.is_set():
                return False
        if not ringing():
            self.counts.missed += 1
            return False
        if self.identity.mode == "NAILED_CONNECTION":
            ok = await self.requests.send("ANSWER", lambda: self.app.answer(dialog_id))
        else:
            number = self.identity.dial_number if self.call_control else self.extension
            ok = await self.requests.send(
                "answer on the phone", lambda: self.sim.phone(number).answer()
            )
        if not ok or not await self.requests.expect("answered", lambda: not ringing()):
            return False
        if self.app.my_state(dialog_id) != ACTIVE:
            return False
        if self.app.dialog(dialog_id).get("callType") == "CONSULT":
            self.counts.consults_answered += 1
        else:
            self.counts.answered += 1
            if self.on_call_answered is not None:
                self.on_call_answered(dialog_id)
        return True

    # -- on a call ------------------------------------------------------------------------

    async def _converse(self, live: list[dict[str, Any]]) -> None:
        for dialog in live:
            if self.app.my_state(dialog["id"]) in (FAILED, INITIATING, INITIATED):
                # A call of ours that is not going anywhere (a consult left behind).
                await self._end_call(dialog["id"], "drop a stray call")
                return
        active = [d for d in live if self.app.my_state(d["id"]) == ACTIVE]
        if not active:
            held = live[0]["id"]
            ok = await self.requests.send("RETRIEVE", lambda: self.app.retrieve(held))
            if ok:
                await self.requests.expect("retrieved", lambda: self.app.my_state(held) != HELD)
            return
        dialog = active[0]
        dialog_id = dialog["id"]
        if dialog.get("callType") == "CONSULT":
            if dialog.get("fromAddress") == self.extension:
                await self._end_call(dialog_id, "drop a stray consult")
            else:
                await self._be_consulted(dialog_id)
            return
        if dialog_id in self._conversed:
            await self._wind_down(dialog_id)
            return
        self._conversed.add(dialog_id)
        await self._conversation(dialog_id)

    async def _conversation(self, dialog_id: str) -> None:
        plan = self._plan(dialog_id)
        if plan.background:
            await self._background()
        if not await self._talk(dialog_id, plan.talk_time * plan.first_part):
            return
        if self.call_control:
            # A person only presses what the app shows (except by mistake).
            if plan.mistap:
                await self._mistap(dialog_id)
            if (
                plan.hold_time is not None
                and self.app.offers(dialog_id, "HOLD")
                and not await self._hold(dialog_id, plan.hold_time)
            ):
                return
            needs = "TRANSFER_SST" if plan.collaboration == "blind" else "CONSULT_CALL"
            if plan.collaboration and self.app.offers(dialog_id, needs):
                left = await self._collaborate(dialog_id, plan)
                if left or not self._on_call(dialog_id):
                    return
        if not await self._talk(dialog_id, plan.talk_time * (1 - plan.first_part)):
            return
        if plan.customer_hangs_up and len(self.app.dialog(dialog_id).get("participants", ())) == 2:
            await self._customer_hangs_up(dialog_id)
        else:
            await self._end_call(dialog_id)

    async def _wind_down(self, dialog_id: str) -> None:
        """Back on a call already talked through (after a conference, say): wrap it up."""
        if await self._talk(dialog_id, 0.25 * self._plan(dialog_id).talk_time):
            await self._end_call(dialog_id)

    async def _talk(self, dialog_id: str, seconds: float) -> bool:
        """Talk for `seconds` of shift time; False if the call ended or the shift stops."""
        await self._pause(seconds, until=lambda: not self._on_call(dialog_id))
        return self._on_call(dialog_id) and not self._stop.is_set()

    async def _hold(self, dialog_id: str, seconds: float) -> bool:
        if not await self.requests.send("HOLD", lambda: self.app.hold(dialog_id)):
            return self._on_call(dialog_id)
        if not await self.requests.expect("held", lambda: self.app.my_state(dialog_id) != ACTIVE):
            return False
        if self.app.my_state(dialog_id) != HELD:
            return False
        self.counts.holds += 1
        await self._pause(seconds, until=lambda: self.app.my_state(dialog_id) != HELD)
        if self.app.my_state(dialog_id) != HELD or self._stop.is_set():
            return False  # the customer hung up on hold, or the shift ends (DROP from HELD)
        if await self.requests.send("RETRIEVE", lambda: self.app.retrieve(dialog_id)):
            await self.requests.expect("retrieved", lambda: self.app.my_state(dialog_id) != HELD)
        return self._on_call(dialog_id)

    async def _mistap(self, dialog_id: str) -> None:
        action = self.behaviour.mistap_action(self.app.dialog(dialog_id).get("actions", ()))
        if action is None:
            return
        self.counts.mistaps += 1
        accepted = await self.requests.send(
            f"mis-tap {action}",
            lambda: self.app.action(dialog_id, action),
            expect={"action_not_allowed"},
        )
        if accepted:
            self.counts.errors[f"mis-tap {action} accepted"] += 1

    async def _background(self) -> None:
        """The app goes to the background: its event stream drops and resumes by `since`."""
        self.counts.backgrounded += 1
        await self.app.drop_stream()

    async def _background_until_pushed(self) -> None:
        """The app is left in the background, its WebSocket closed: a push wakes it (a call
        rings), or the agent looks at the phone again after a while."""
        self.counts.backgrounded += 1
        self.counts.left_for_push += 1
        if not await self.requests.send("go to the background", self.app.background):
            return
        wakes = self.app.wakes
        await self._pause(BACK_BY_ITSELF, until=lambda: not self.app.in_background)
        if self.app.wakes > wakes:
            self.counts.push_wakes += 1
        if self.app.in_background and self.app.token:
            await self.requests.send("back to the foreground", self.app.foreground)

    async def _customer_hangs_up(self, dialog_id: str) -> None:
        if await self.requests.send("customer hangs up", lambda: self.sim.hang_up_call(dialog_id)):
            self.counts.customer_hangups += 1
            await self.requests.expect(
                "call ended", lambda: self.app.my_state(dialog_id) not in LIVE
            )

    async def _end_call(self, dialog_id: str, what: str = "DROP") -> bool:
        if self.call_control:
            ok = await self.requests.send(what, lambda: self.app.drop(dialog_id))
        else:
            ok = await self.requests.send(what, lambda: self.sim.phone(self.extension).hang_up())
        return ok and await self.requests.expect(
            what, lambda: self.app.my_state(dialog_id) not in LIVE
        )

    async def _be_consulted(self, dialog_id: str) -> None:
        """A colleague consults us: stay on until they transfer, conference or hang up."""
        patience = self._peer_wait(3 * self._plan(dialog_id).consult_patience)

        def settled() -> bool:
            return (
                self.app.my_state(dialog_id) != ACTIVE
                or self.app.dialog(dialog_id).get("callType") != "CONSULT"
            )

        if not await self.requests.wait(settled, patience) and not self._stop.is_set():
            await self._end_call(dialog_id, "drop a consult left waiting")

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

    async def _collaborate(self, dialog_id: str, plan: CallPlan) -> bool:
        """Consult, transfer, conference or blind-transfer per the plan. True if this agent
        left the call (it was transferred)."""
        colleague = self._pick_colleague()
        if colleague is None:
            self.counts.no_colleague += 1
            return False
        to = colleague.extension
        if plan.collaboration == "blind":
            ok = await self.requests.send(
                "TRANSFER_SST",
                lambda: self.app.single_step_transfer(dialog_id, to),
                expect={"Invalid Destination"},  # the colleague got busy meanwhile
            )
            if ok and await self.requests.expect(
                "transferred", lambda: self.app.my_state(dialog_id) not in LIVE
            ):
                self.counts.blind_transfers += 1
            return ok
        if not await self.requests.send("CONSULT_CALL", lambda: self.app.consult(dialog_id, to)):
            return False
        self.counts.consults += 1

        def placed_consult() -> str:
            for other_id, other in self.app.dialogs.items():
                if (
                    other_id != dialog_id
                    and other.get("callType") == "CONSULT"
                    and other.get("fromAddress") == self.extension
                ):
                    return other_id
            return ""

        if not await self.requests.expect(
            "consult dialog",
            lambda: bool(placed_consult()) or self.app.my_state(dialog_id) not in LIVE,
        ):
            return False
        consult_id = placed_consult()
        if not consult_id:
            return False  # the customer hung up while held: the next step tidies up

        def answered() -> bool:
            return self.app.my_state(consult_id) == ACTIVE

        def settled() -> bool:
            return answered() or self.app.my_state(consult_id) not in (INITIATING, INITIATED)

        await self.requests.wait(settled, self._peer_wait(plan.consult_patience))
        if answered():
            await self._pause(
                plan.consult_talk,
                until=lambda: not answered() or self.app.my_state(dialog_id) != HELD,
            )
            if answered() and self.app.my_state(dialog_id) == HELD and not self._stop.is_set():
                if plan.collaboration == "transfer":
                    return await self._complete(dialog_id, "TRANSFER")
                if plan.collaboration == "conference":
                    await self._complete(dialog_id, "CONFERENCE")
                    return False
        else:
            self.counts.consults_unanswered += 1
        if self.app.my_state(consult_id) in LIVE:
            await self._end_call(consult_id, "drop the consult")
        if (
            self.app.my_state(dialog_id) == HELD
            and not self._stop.is_set()
            and await self.requests.send("RETRIEVE", lambda: self.app.retrieve(dialog_id))
        ):
            await self.requests.expect("retrieved", lambda: self.app.my_state(dialog_id) != HELD)
        return False

    async def _complete(self, dialog_id: str, action: str) -> bool:
        """TRANSFER or CONFERENCE once the original call offers it; True if transferred."""
        if not await self.requests.expect(
            f"{action} offered",
            lambda: (
                action in self.app.dialog(dialog_id).get("actions", ())
                or self.app.my_state(dialog_id) != HELD
            ),
        ):
            return False
        if action not in self.app.dialog(dialog_id).get("actions", ()):
            return False
        if not await self.requests.send(action, lambda: self.app.action(dialog_id, action)):
            return False
        if action == "TRANSFER":
            if await self.requests.expect(
                "transferred", lambda: self.app.my_state(dialog_id) not in LIVE
            ):
                self.counts.transfers += 1
            return True
        if await self.requests.expect("conferenced", lambda: self.app.my_state(dialog_id) != HELD):
            self.counts.conferences += 1
        return False

    # -- after the call and between calls ---------------------------------------------------

    async def _wrap_up(self) -> None:
        wraps = self.app.my_dialogs(WRAP_UP)
        seconds = (
            self._plan(wraps[0]["id"]).wrap_up_time if wraps else self.persona.wrap_up_time.typical
        )

        def over() -> bool:  # the wrap-up timer ended it, or something rings
            return bool(self.app.my_dialogs(ALERTING)) or (
                not self.app.my_dialogs(WRAP_UP) and self.agent_state not in WRAP_UP_STATES
            )

        await self._pause(seconds, until=over)
        if self._stop.is_set() or self.app.my_dialogs(ALERTING):
            return
        for dialog in self.app.my_dialogs(WRAP_UP):
            await self._set_wrap_up_reason(dialog)
        if self.agent_state in WRAP_UP_STATES:
            self.counts.wrap_ups += 1
            if self._break_due():
                await self._start_break()
            else:
                await self._set_state("READY")
        elif self.app.my_dialogs(WRAP_UP) and not await self.requests.wait(
            lambda: not self.app.my_dialogs(WRAP_UP), self.timeout
        ):
            # The state moved on, so the dialog's DELETE must follow.
            await self.requests.timed_out("wrap-up dialog to end")

    async def _set_wrap_up_reason(self, dialog: dict[str, Any]) -> None:
        dialog_id = dialog["id"]
        if dialog.get("wrapUpReason") or "UPDATE_CALL_DATA" not in dialog.get("actions", ()):
            return
        preferred = self._plan(dialog_id).wrap_up_reason
        labels = self._wrap_up_labels
        label = preferred if preferred in labels or not labels else labels[0]
        if await self.requests.send(
            "UPDATE_CALL_DATA", lambda: self.app.update_call_data(dialog_id, wrap_up_reason=label)
        ):
            await self.requests.expect(
                "wrap-up reason",
                lambda: (
                    dialog_id not in self.app.dialogs
                    or bool(self.app.dialog(dialog_id).get("wrapUpReason"))
                ),
            )

    async def _idle(self) -> None:
        if self._break_due():
            await self._start_break()
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        until_break = max(self._next_break_at - self.shift_time(), 0.0) * self.time_scale
        await self.requests.wait(
            lambda: self.agent_state != "READY" or bool(self.app.dialogs),
            min(until_break, 5.0),
        )
        idle_minutes = (loop.time() - started) / self.time_scale / 60
        if self.behaviour.backgrounds_while_idle(idle_minutes) and not self._stop.is_set():
            # Left there only while nothing is going on: a call that rang as the agent
            # looked away is on screen already.
            quiet = not self.app.dialogs and self.agent_state == "READY"
            if quiet and self.app.push_id and self.behaviour.leaves_app_in_background():
                await self._background_until_pushed()
            else:
                await self._background()

    def _break_due(self) -> bool:
        return self.shift_time() >= self._next_break_at

    async def _start_break(self) -> None:
        kind, length = self.behaviour.pick_break()
        code = self._reason_ids.get(kind.reason) or self._any_not_ready_code()
        if await self._set_state("NOT_READY", code) and self.agent_state == "NOT_READY":
            now = self.shift_time()
            self.counts.breaks += 1
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
                    self.counts.ring_no_answer += 1
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
        if not await self.requests.send(state, lambda: self.app.set_state(state, reason_code_id)):
            return False
        return await self.requests.expect(
            state,
            lambda: self.agent_state != before or self.app.agent.get("pendingState") == state,
        )

    def _any_not_ready_code(self) -> str | None:
        return next(iter(self._reason_ids.values()), None)

    # -- waits of the agent's own -------------------------------------------------------------

    async def _pause(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        """Think or talk for `seconds` of shift time (`seconds * time_scale` wall seconds),
        cut short when `until()` becomes true or the shift is told to stop."""
        await self.requests.wait(until, max(seconds, 0.0) * self.time_scale)

    def _peer_wait(self, seconds: float) -> float:
        """How long to wait (wall seconds) for a colleague: their persona answers in shift
        time, so scale it, but allow at least a second of round trips."""
        return max(seconds * self.time_scale, 1.0)

    def _on_call(self, dialog_id: str) -> bool:
        return self.app.my_state(dialog_id) == ACTIVE

    def _plan(self, dialog_id: str) -> CallPlan:
        plan = self._plans.get(dialog_id)
        if plan is None:
            plan = self._plans[dialog_id] = self.behaviour.plan_call()
        return plan
