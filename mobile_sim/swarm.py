"""A swarm of simulated agents working a shift together, and customers calling in.

`Swarm(config).run(stop)` signs N agents in through the connector's mobile API, lets each
work its shift (`mobile_sim.agent`), places customers' calls into the simulator's queue at a
Poisson rate (`calls_per_minute` of shift time; callers and call data from a seeded faker),
and at the end of `duration` (or when `stop` is set) stops the traffic, hangs up the calls
still queued, has every agent finish its call, go NOT_READY and log out, and closes every
session. It returns a summary dict; `progress_line()` says how it is going meanwhile.

Only public contracts are used: the mobile API and the simulator's `/sim/v1` (docs/connector.md,
docs/simulator.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from mobile_sim.agent import SimulatedAgent
from mobile_sim.aio import cancel_and_reap
from mobile_sim.api import AppError
from mobile_sim.app import AppClient
from mobile_sim.counts import ShiftCounts
from mobile_sim.identity import MODES, Identity
from mobile_sim.personas import STEADY, Persona
from mobile_sim.push_service import SimPushService
from mobile_sim.sim_control import SimControl

LOGINS_AT_ONCE = 20


@dataclass
class SwarmConfig:
    connector: str = "http://127.0.0.1:8080"
    sim: str = "http://127.0.0.1:8445"
    count: int = 3
    personas: Sequence[Persona] = (STEADY,)  # handed out in turn
    mode: str = "CALL_BY_CALL"  # CALL_BY_CALL, NAILED_CONNECTION, DESK, or MIXED (in turn)
    duration: float = 60.0  # wall seconds from the start until the end of the shift
    seed: int = 1
    first_agent: int = 1001
    first_extension: str = ""  # default: first agent + 4000 (5001 for 1001)
    first_dial_number: str = ""  # default: +1555123 and 4 digits (+15551230001 for 1001)
    password: str = "password"
    queue: str = "8000"  # the DN customers dial
    calls_per_minute: float | None = None  # per minute of shift time; None: 1 per agent
    abandon_after: float = 180.0  # shift seconds a queued customer waits before hanging up
    time_scale: float = 1.0  # wall seconds per shift second (persona times and call rate)
    sim_speed: float | None = None  # set the simulator's clock speed for the run
    timeout: float = 5.0  # wall seconds to wait for what a request should cause
    shutdown_timeout: float = 20.0  # wall seconds each agent has to sign out
    push: bool = False  # run the simulated push service; the apps subscribe to push
    push_port: int = 8089  # its loopback port (the connector's --push-allow names it)

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError("count must be >= 1")
        if self.duration <= 0 or self.time_scale <= 0:
            raise ValueError("duration and time_scale must be > 0")
        if self.mode not in (*MODES, "MIXED"):
            raise ValueError(f"mode must be one of {(*MODES, 'MIXED')}")
        if not self.personas:
            raise ValueError("at least one persona is needed")
        if self.sim_speed is not None and self.sim_speed <= 0:
            raise ValueError("sim_speed must be > 0")
        if self.timeout <= 0 or self.shutdown_timeout <= 0:
            raise ValueError("timeout and shutdown_timeout must be > 0")
        if self.calls_per_minute is not None and self.calls_per_minute < 0:
            raise ValueError("calls_per_minute must be >= 0")

    @property
    def rate(self) -> float:
        """Calls per minute of shift time."""
        return 1.0 * self.count if self.calls_per_minute is None else self.calls_per_minute

    def identities(self) -> list[Identity]:
        modes = MODES if self.mode == "MIXED" else (self.mode,)
        first_ext = int(self.first_extension or self.first_agent + 4000)
        dial = self.first_dial_number or f"+1555123{max(self.first_agent - 1000, 0):04d}"
        plus = "+" if dial.startswith("+") else ""
        digits = dial.removeprefix("+")
        out = []
        for i in range(self.count):
            mode = modes[i % len(modes)]
            number = f"{plus}{int(digits) + i:0{len(digits)}d}" if mode != "DESK" else ""
            out.append(
                Identity(
                    agent_id=str(self.first_agent + i),
                    extension=str(first_ext + i),
                    dial_number=number,
                    mode=mode,
                    password=self.password,
                )
            )
        return out


class Customers:
    """Callers and their call data, from faker seeded with the swarm seed."""

    def __init__(self, seed: int) -> None:
        from faker import Faker

        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)

    def next(self) -> tuple[str, dict[str, str]]:
        number = self.fake.numerify("+1212555####")
        variables = {
            "callVariable1": self.fake.bothify("ACC-#####"),
            "callVariable2": self.fake.name().encode()[:40].decode(errors="ignore"),
        }
        return number, variables


class Swarm:
    def __init__(self, config: SwarmConfig, *, http: aiohttp.ClientSession | None = None):
        self.config = config
        self._http = http
        self.agents: list[SimulatedAgent] = []
        self.phase = "starting"  # starting, working, stopping, done
        self.offered = 0
        self.abandoned = 0  # queued customers who gave up
        self.hung_up_at_end = 0  # calls still waiting when the shift ended
        self.errors: Counter[str] = Counter()  # the swarm's own (placing calls, hang-ups)
        self._waiting: dict[str, float] = {}  # call id -> placed at (loop time), not yet seen
        self._unanswered: set[str] = set()  # seen ringing at an agent, not answered yet
        self._started = 0.0
        self._ended = 0.0
        self.push: SimPushService | None = None

    # -- running --------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> dict[str, Any]:
        """The whole shift; returns the summary. Never leaves a task or a session behind."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        self._started = loop.time()
        http = self._http or aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        sim = SimControl(cfg.sim, http=http)
        previous_speed = None
        tasks: list[asyncio.Future[Any]] = []
        try:
            if cfg.push:
                try:
                    self.push = await SimPushService(port=cfg.push_port).start()
                except OSError as exc:
                    self.errors[f"push service: cannot listen on {cfg.push_port}: {exc}"] += 1
                    return self.summary()
            if cfg.sim_speed:
                previous_speed = await self._set_speed(sim, cfg.sim_speed)
            self.agents = self._make_agents(http, sim)
            tasks = [asyncio.ensure_future(agent.run()) for agent in self.agents]
            self.phase = "working"
            no_more_calls = asyncio.Event()
            traffic = asyncio.ensure_future(self._traffic(sim, no_more_calls))
            tasks.append(traffic)
            await self._until_the_end(tasks[:-1], stop or asyncio.Event())
            self.phase = "stopping"
            no_more_calls.set()
            await traffic
            # Nobody will take the calls still queued now.
            self.hung_up_at_end += await self._hang_up(sim, list(self._waiting))
            self._waiting.clear()
            for agent in self.agents:
                agent.stop()
            _, late = await asyncio.wait(tasks, timeout=cfg.shutdown_timeout + 2 * cfg.timeout + 5)
            if late:
                self.errors["agent did not finish signing out"] += len(late)
            self.hung_up_at_end += await self._hang_up(sim, list(self._unanswered))
        finally:
            await cancel_and_reap(tasks)
            for agent in self.agents:
                await agent.app.close()
            if previous_speed is not None:
                await self._set_speed(sim, previous_speed)
            await sim.close()
            if self.push is not None:
                await self.push.stop()
            if self._http is None:
                await http.close()
            self._ended = loop.time()
            self.phase = "done"
        return self.summary()

    def _make_agents(self, http: aiohttp.ClientSession, sim: SimControl) -> list[SimulatedAgent]:
        cfg = self.config
        gate = asyncio.Semaphore(LOGINS_AT_ONCE)
        return [
            SimulatedAgent(
                identity,
                cfg.personas[i % len(cfg.personas)],
                app=AppClient(cfg.connector, http=http),
                sim=sim,
                seed=cfg.seed,
                time_scale=cfg.time_scale,
                timeout=cfg.timeout,
                shutdown_timeout=cfg.shutdown_timeout,
                colleagues=lambda: self.agents,
                on_call_seen=self._seen,
                on_call_answered=self._answered,
                login_gate=gate,
                push=self.push,
            )
            for i, identity in enumerate(cfg.identities())
        ]

    async def _until_the_end(self, agents: list[asyncio.Future[Any]], stop: asyncio.Event) -> None:
        """The duration, a stop, or every agent gone (e.g. no login succeeded)."""
        everyone = asyncio.ensure_future(asyncio.wait(agents))
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait(
                {everyone, stopped},
                timeout=self.config.duration,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            await cancel_and_reap((everyone, stopped))

    async def _set_speed(self, sim: SimControl, speed: float) -> float | None:
        """Set the simulator's clock speed; the speed it had, None if that failed."""
        try:
            previous = (await sim.clock()).get("speed")
            await sim.set_speed(speed)
            return previous
        except (AppError, aiohttp.ClientError, OSError) as exc:
            self.errors[f"simulator clock: {exc}"] += 1
            return None

    async def _traffic(self, sim: SimControl, stop: asyncio.Event) -> None:
        """Customers call the queue: Poisson arrivals at `rate` per minute of shift time."""
        cfg = self.config
        if cfg.rate <= 0:
            return
        rng = random.Random(f"{cfg.seed}:traffic")
        customers = Customers(cfg.seed)
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            gap = rng.expovariate(cfg.rate / 60.0) * cfg.time_scale
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), gap)  # the next customer's arrival time
            if stop.is_set():
                return
            number, variables = customers.next()
            try:
                call_id = await sim.place_call(cfg.queue, number, variables)
            except (AppError, aiohttp.ClientError, OSError) as exc:
                self.errors[f"place call: {exc}"] += 1
                continue
            self.offered += 1
            self._waiting[call_id] = loop.time()
            patience = cfg.abandon_after * cfg.time_scale
            impatient = [c for c, t in self._waiting.items() if loop.time() - t > patience]
            for call_id in impatient:
                self._waiting.pop(call_id, None)
            self.abandoned += await self._hang_up(sim, impatient)

    async def _hang_up(self, sim: SimControl, call_ids: list[str]) -> int:
        """Customers hang up; a call that already ended is fine. Returns how many did."""
        hung_up = 0
        for call_id in call_ids:
            try:
                await sim.hang_up_call(call_id)
                hung_up += 1
            except AppError as err:
                if err.status != 404:
                    self.errors[f"hang up: {err.status} {err.type}"] += 1
            except (aiohttp.ClientError, OSError) as exc:
                self.errors[f"hang up: {type(exc).__name__}"] += 1
        return hung_up

    def _seen(self, call_id: str) -> None:
        if self._waiting.pop(call_id, None) is not None:
            self._unanswered.add(call_id)

    def _answered(self, call_id: str) -> None:
        self._waiting.pop(call_id, None)
        self._unanswered.discard(call_id)

    # -- reporting ------------------------------------------------------------------------

    def elapsed(self) -> float:
        if not self._started:
            return 0.0
        end = self._ended or asyncio.get_running_loop().time()
        return end - self._started

    def totals(self) -> ShiftCounts:
        total = ShiftCounts()
        for agent in self.agents:
            total.add(agent.counts)
        return total

    def progress_line(self) -> str:
        states = Counter(agent.state for agent in self.agents)
        shown = ", ".join(f"{state} {n}" for state, n in sorted(states.items())) or "-"
        total = self.totals()
        unexpected = total.unexpected + sum(self.errors.values())
        return (
            f"{self.elapsed():6.1f}s  {len(self.agents)} agents: {shown} | calls offered "
            f"{self.offered} answered {total.answered} abandoned {self.abandoned} | "
            f"errors {unexpected} refusals {sum(total.expected_refusals.values())} "
            f"races {sum(total.races.values())} resumes {sum(a.app.resumes for a in self.agents)}"
        )

    def summary(self) -> dict[str, Any]:
        cfg = self.config
        total = self.totals()
        errors = Counter(total.errors)
        errors.update({f"timeout: {k}": v for k, v in total.timeouts.items()})
        errors.update(self.errors)
        not_logged_out = [a.agent_id for a in self.agents if a.signed_in and not a.logged_out]
        never_in = [a.agent_id for a in self.agents if not a.signed_in]
        unexpected = sum(errors.values())
        elapsed = self.elapsed()
        return {
            "ok": unexpected == 0 and not not_logged_out and not never_in,
            "unexpected": unexpected,
            "errors": dict(sorted(errors.items())),
            "agents": {
                "count": len(self.agents),
                "loggedOut": sum(1 for a in self.agents if a.logged_out),
                "notLoggedOut": not_logged_out,  # signed in, still in at the end
                "neverSignedIn": never_in,
                "personas": dict(Counter(a.persona.name for a in self.agents)),
                "modes": dict(Counter(a.identity.mode for a in self.agents)),
            },
            "calls": {
                "offered": self.offered,
                "answered": total.answered,
                "abandoned": self.abandoned,
                "hungUpAtEnd": self.hung_up_at_end,
            },
            "totals": total.as_dict(),
            "run": {
                "seed": cfg.seed,
                "timeScale": cfg.time_scale,
                "simSpeed": cfg.sim_speed,
                "callsPerMinute": cfg.rate,
                "wallSeconds": round(elapsed, 2),
                "shiftSeconds": round(elapsed / cfg.time_scale, 1),
            },
            "push": (
                {"origin": self.push.origin, "counts": dict(self.push.stats)}
                if self.push is not None
                else None
            ),
            "perAgent": [agent.summary() for agent in self.agents],
        }
