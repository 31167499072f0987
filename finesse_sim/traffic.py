"""Traffic profiles and live traffic: customers calling the running simulator.

Two halves, in one module so that the simulator can use them without importing the
harness (`scenarios/` may import `finesse_sim`, never the other way round):

* **The profile format.** A `TrafficProfile` holds one `Profile` per queue DN: arrivals
  (Poisson, a mean rate or piecewise-constant interval rates), handle time (exponential or
  lognormal), customer patience (exponential or none), the shares of calls consulted,
  transferred and conferenced, the call variables to attach, and a seed. Profiles are small
  TOML files, read by `load_profile(path_or_name)`; a bare name resolves to a file shipped
  in `scenarios/traffic/profiles/` (read as data, no code of `scenarios` is imported).
  `scenarios.traffic.profiles` re-exports all of it for the harness and the offline model.

* **The generator.** `TrafficGenerator` lives on the model's simpy clock (every delay is a
  `timers.schedule`, so `--speed` speeds traffic up too). It injects calls by the profile
  (`ContactCenter.inject_call`), gives each customer a sampled patience and handle time, and
  watches the customer's own handset (the model's phone events, keyed by the caller's
  unique number): `connected` is the moment the call was answered, `ended` the moment the
  customer's leg ended. A customer still unanswered (queued or ringing) when patience runs
  out hangs up (`hangup_call`, an abandon); an answered customer hangs up after the handle
  time (`phone_hangup` on the caller's number, which follows the customer through a
  transfer) unless the agent ended the call first. Counters per queue: `snapshot()`.
"""

from __future__ import annotations

import math
import random
import re
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.finesse.models import CALL_VARIABLE_NAMES, ECC_PREFIX, ApiErrorException
from finesse_sim.model.timers import Timer, schedule

if TYPE_CHECKING:
    from faker import Faker

    from finesse_sim.model.contact_center import ContactCenter

# Shipped profiles are data files of the harness; a bare name is looked up here.
SHIPPED_PROFILES = Path(__file__).resolve().parent.parent / "scenarios" / "traffic" / "profiles"
DISTRIBUTIONS = ("exponential", "lognormal")
PATIENCE_DISTRIBUTIONS = ("exponential", "none")
ENDS = ("repeat", "hold", "stop")
DISPOSITIONS = ("consult", "transfer", "conference")
CALL_VARIABLE_MAX_BYTES = 40  # Finesse's limit for callVariable1-10
DEFAULT_CALLER = "+1##########"
_DN = re.compile(r"^\+?[0-9]+$")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
# Faker members that are not data providers.
_NOT_PROVIDERS = frozenset({"seed", "seed_instance", "seed_locale", "random", "format", "parse"})


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and the key."""


def _expo(rng: Any, mean: float) -> float:
    if hasattr(rng, "expovariate"):
        return rng.expovariate(1.0 / mean)
    return float(rng.exponential(mean))  # numpy.random.Generator


def _lognormal(rng: Any, mu: float, sigma: float) -> float:
    if hasattr(rng, "lognormvariate"):
        return rng.lognormvariate(mu, sigma)
    return float(rng.lognormal(mu, sigma))


# -- the profile format ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Arrivals:
    """Poisson arrivals with piecewise-constant rates.

    `intervals` are (seconds, calls per hour) from the profile's start (model time 0 of the
    generator); a constant rate is one interval of infinite length. After the last interval
    `end` decides: `repeat` the cycle, `hold` the last rate, `stop` (no more calls).
    `start` ("HH:MM", optional) is the time of day the first interval stands for, for labels.
    """

    intervals: tuple[tuple[float, float], ...]
    end: str = "repeat"
    start: str | None = None

    @classmethod
    def constant(cls, calls_per_hour: float) -> Arrivals:
        return cls(((math.inf, float(calls_per_hour)),), end="hold")

    @property
    def cycle_seconds(self) -> float:
        """Length of the interval profile (inf for a constant rate)."""
        return sum(seconds for seconds, _ in self.intervals)

    @property
    def calls_per_hour(self) -> float:
        """The mean rate over one cycle (the constant rate if there is no profile)."""
        if math.isinf(self.cycle_seconds):
            return self.intervals[0][1]
        total = sum(seconds * rate for seconds, rate in self.intervals)
        return total / self.cycle_seconds

    def _position(self, t: float) -> tuple[int, float, float] | None:
        """(interval index, its start, its end) holding time t; None after a `stop` end."""
        t = max(t, 0.0)
        cycle = self.cycle_seconds
        offset = 0.0
        if t >= cycle:
            if self.end == "stop":
                return None
            if self.end == "hold":
                return len(self.intervals) - 1, cycle, math.inf
            offset = math.floor(t / cycle) * cycle
        begin = offset
        for i, (seconds, _) in enumerate(self.intervals):
            if t < begin + seconds:
                return i, begin, begin + seconds
            begin += seconds
        # Rounding left t at the very end of a cycle: it is the start of the next one.
        return 0, begin, begin + self.intervals[0][0]

    def rate_at(self, t: float) -> float:
        """Calls per hour at `t` seconds after the start."""
        position = self._position(t)
        return 0.0 if position is None else self.intervals[position[0]][1]

    def expected_calls(self, t0: float, t1: float) -> float:
        """The mean number of arrivals in [t0, t1): the integral of the rate."""
        total, t = 0.0, max(t0, 0.0)
        while t < t1:
            position = self._position(t)
            if position is None:
                break
            i, _, end = position
            stop = min(end, t1)
            total += self.intervals[i][1] / 3600.0 * (stop - t)
            t = stop
        return total

    def next_arrival(self, t: float, rng: Any) -> float | None:
        """The next arrival after `t` (seconds from the start), or None if none ever comes.

        Exact for piecewise-constant rates: one Exp(1) draw, then the integrated rate is
        walked forward interval by interval until it reaches the draw (no thinning needed).
        """
        need = _expo(rng, 1.0)
        cycles_without_calls = 0
        while True:
            position = self._position(t)
            if position is None:
                return None
            i, _, end = position
            per_second = self.intervals[i][1] / 3600.0
            if per_second > 0 and need <= per_second * (end - t):
                return t + need / per_second
            if math.isinf(end):
                return None  # a zero rate held for ever
            need -= per_second * (end - t)
            if i == len(self.intervals) - 1:
                cycles_without_calls += 1
                if cycles_without_calls > 1 and self.calls_per_hour == 0:
                    return None
            t = end


@dataclass(frozen=True, slots=True)
class HandleTime:
    """How long the customer stays on the line once answered (seconds)."""

    distribution: str = "exponential"
    mean: float = 180.0
    sd: float | None = None  # lognormal only

    def sample(self, rng: Any) -> float:
        if self.distribution == "lognormal":
            assert self.sd is not None
            sigma2 = math.log(1.0 + (self.sd / self.mean) ** 2)
            return _lognormal(rng, math.log(self.mean) - sigma2 / 2.0, math.sqrt(sigma2))
        return _expo(rng, self.mean)


@dataclass(frozen=True, slots=True)
class Patience:
    """How long an unanswered customer waits before hanging up (seconds); none: for ever."""

    distribution: str = "none"
    mean: float | None = None

    def sample(self, rng: Any) -> float | None:
        if self.distribution == "none" or self.mean is None:
            return None
        return _expo(rng, self.mean)


@dataclass(frozen=True, slots=True)
class Shares:
    """Shares of calls the answering agent consults (and returns), transfers, conferences.
    Carried as data for agents' behaviour; `variable` optionally puts the sampled
    disposition on the call (e.g. `user.disposition`), so agents can act on it."""

    consult: float = 0.0
    transfer: float = 0.0
    conference: float = 0.0
    variable: str | None = None

    def sample(self, rng: Any) -> str | None:
        x = rng.random()
        for name in DISPOSITIONS:
            share = getattr(self, name)
            if x < share:
                return name
            x -= share
        return None


@dataclass(frozen=True, slots=True)
class VariableSpec:
    """How one call variable's value is made: `template` ('#' a digit, '?' a letter),
    `faker` (a faker provider called without arguments) or `choice` (one of `values`)."""

    kind: str
    value: str = ""
    values: tuple[str, ...] = ()

    def make(self, fake: Faker, rng: random.Random) -> str:
        if self.kind == "choice":
            return rng.choice(self.values)
        if self.kind == "faker":
            return str(getattr(fake, self.value)())
        return fake.bothify(self.value)


@dataclass(frozen=True, slots=True)
class Profile:
    """The traffic of one queue. Times in seconds, rates in calls per hour."""

    dn: str
    arrivals: Arrivals
    handle_time: HandleTime
    patience: Patience = Patience()
    shares: Shares = Shares()
    variables: tuple[tuple[str, VariableSpec], ...] = ()
    name: str = ""
    caller: str = DEFAULT_CALLER  # the customers' numbers ('#' a digit)

    def rate_at(self, t: float) -> float:
        """Calls per hour at `t` seconds after the start."""
        return self.arrivals.rate_at(t)

    @property
    def calls_per_hour(self) -> float:
        """The mean arrival rate (over one cycle of the interval profile)."""
        return self.arrivals.calls_per_hour

    @property
    def aht(self) -> float:
        """Mean handle time, seconds."""
        return self.handle_time.mean

    @property
    def mean_patience(self) -> float | None:
        return self.patience.mean if self.patience.distribution != "none" else None

    def next_arrival(self, t: float, rng: Any) -> float | None:
        return self.arrivals.next_arrival(t, rng)

    def expected_calls(self, t0: float, t1: float) -> float:
        return self.arrivals.expected_calls(t0, t1)

    def sample_handle_time(self, rng: Any) -> float:
        return self.handle_time.sample(rng)

    def sample_patience(self, rng: Any) -> float | None:
        """Seconds the customer waits for an answer, None for no abandonment."""
        return self.patience.sample(rng)

    def sample_disposition(self, rng: Any) -> str | None:
        """'consult', 'transfer', 'conference' or None, by the shares."""
        return self.shares.sample(rng)


@dataclass(frozen=True, slots=True)
class TrafficProfile:
    """A whole profile: one `Profile` per queue DN, a seed and the service-level threshold."""

    name: str
    queues: Mapping[str, Profile]
    seed: int = 1
    sl_seconds: float = 20.0
    description: str = ""
    source: str | None = None  # the file it came from

    def queue(self, dn: str) -> Profile:
        return self.queues[dn]

    def rate_at(self, t: float) -> float:
        """Calls per hour over every queue at `t`."""
        return sum(q.rate_at(t) for q in self.queues.values())

    @property
    def calls_per_hour(self) -> float:
        return sum(q.calls_per_hour for q in self.queues.values())

    def with_seed(self, seed: int) -> TrafficProfile:
        return replace(self, seed=seed)

    def rng(self, dn: str, stream: str) -> random.Random:
        """A random stream of one queue, seeded by the profile: streams do not disturb each
        other (e.g. adding a call variable leaves the arrival times as they were)."""
        return random.Random(f"{self.seed}/{dn}/{stream}")


# -- loading ---------------------------------------------------------------------------------


class _Table:
    """One TOML table being read: every key is taken once; leftovers are errors."""

    def __init__(self, data: Any, path: str, source: str) -> None:
        self.path, self.source = path, source
        if not isinstance(data, dict):
            self.fail(self.path, "must be a table")
        self.data = dict(data)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, key: str, message: str) -> None:
        raise ProfileError(f"{self.source}: {key or 'profile'}: {message}")

    def has(self, name: str) -> bool:
        return name in self.data

    def take(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        if name not in self.data:
            if required:
                self.fail(self.key(name), "is required")
            return default
        return self.data.pop(name)

    def number(
        self,
        name: str,
        default: float | None = None,
        *,
        required: bool = False,
        positive: bool = False,
    ) -> float | None:
        value = self.take(name, default, required=required)
        if value is None:
            return None
        return _number(value, self.key(name), self, positive=positive)

    def string(self, name: str, default: str | None = None, *, required: bool = False):
        value = self.take(name, default, required=required)
        if value is not None and not isinstance(value, str):
            self.fail(self.key(name), f"must be a string (got {value!r})")
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.string(name, default)
        if value not in options:
            self.fail(self.key(name), f"must be one of {', '.join(options)} (got {value!r})")
        return value

    def table(self, name: str, *, required: bool = False) -> _Table | None:
        value = self.take(name, None, required=required)
        return None if value is None else _Table(value, self.key(name), self.source)

    def done(self) -> None:
        for name in self.data:
            self.fail(self.key(name), "unknown key")


def _number(value: Any, key: str, table: _Table, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        table.fail(key, f"must be a number (got {value!r})")
    if positive and value <= 0:
        table.fail(key, f"must be > 0 (got {value!r})")
    if value < 0:
        table.fail(key, f"must be >= 0 (got {value!r})")
    return float(value)


def _arrivals(t: _Table) -> Arrivals:
    forms = [name for name in ("calls_per_hour", "rates", "intervals") if t.has(name)]
    if len(forms) != 1:
        t.fail(
            t.path,
            "give exactly one of calls_per_hour, rates (with interval_minutes) or intervals",
        )
    start = t.string("start")
    if start is not None and not _HHMM.match(start):
        t.fail(t.key("start"), f"must be a time of day HH:MM (got {start!r})")
    if forms[0] == "calls_per_hour":
        rate = t.number("calls_per_hour")
        assert rate is not None
        for name in ("interval_minutes", "end"):
            if t.has(name):
                t.fail(t.key(name), "only with rates or intervals")
        t.done()
        return replace(Arrivals.constant(rate), start=start)
    intervals: list[tuple[float, float]] = []
    if forms[0] == "rates":
        minutes = t.number("interval_minutes", required=True, positive=True)
        assert minutes is not None
        rates = t.take("rates")
        if not isinstance(rates, list) or not rates:
            t.fail(t.key("rates"), "must be a non-empty list of calls per hour")
        for i, rate in enumerate(rates):
            intervals.append((minutes * 60.0, _number(rate, f"{t.key('rates')}[{i}]", t)))
    else:
        if t.has("interval_minutes"):
            t.fail(t.key("interval_minutes"), "only with rates (intervals give their own)")
        pairs = t.take("intervals")
        if not isinstance(pairs, list) or not pairs:
            t.fail(t.key("intervals"), "must be a non-empty list of [minutes, calls per hour]")
        for i, pair in enumerate(pairs):
            key = f"{t.key('intervals')}[{i}]"
            if not isinstance(pair, list) or len(pair) != 2:
                t.fail(key, f"must be [minutes, calls per hour] (got {pair!r})")
            minutes = _number(pair[0], key, t, positive=True)
            intervals.append((minutes * 60.0, _number(pair[1], key, t)))
    end = t.choice("end", ENDS, "repeat")
    t.done()
    return Arrivals(tuple(intervals), end=end, start=start)


def _handle_time(t: _Table) -> HandleTime:
    distribution = t.choice("distribution", DISTRIBUTIONS, "exponential")
    mean = t.number("mean", required=True, positive=True)
    assert mean is not None
    sd = None
    if distribution == "lognormal":
        sd = t.number("sd", required=True, positive=True)
    elif t.has("sd"):
        t.fail(t.key("sd"), "only for the lognormal distribution (exponential: sd = mean)")
    t.done()
    return HandleTime(distribution, mean, sd)


def _patience(t: _Table | None) -> Patience:
    if t is None:
        return Patience()
    distribution = t.choice("distribution", PATIENCE_DISTRIBUTIONS, "exponential")
    mean = None
    if distribution == "exponential":
        mean = t.number("mean", required=True, positive=True)
    elif t.has("mean"):
        t.fail(t.key("mean"), "only with distribution = 'exponential'")
    t.done()
    return Patience(distribution, mean)


def _check_variable_name(name: str, key: str, t: _Table) -> None:
    if name in CALL_VARIABLE_NAMES:
        return
    if name.startswith(ECC_PREFIX) and len(name) > len(ECC_PREFIX):
        return
    t.fail(key, f"{name!r} is not a call variable (callVariable1-10 or user.NAME)")


def _shares(t: _Table | None) -> Shares:
    if t is None:
        return Shares()
    values = {name: t.number(name, 0.0) or 0.0 for name in DISPOSITIONS}
    for name, value in values.items():
        if value > 1:
            t.fail(t.key(name), f"must be a share between 0 and 1 (got {value!r})")
    if sum(values.values()) > 1 + 1e-9:
        t.fail(t.path, "consult + transfer + conference must be <= 1")
    variable = t.string("variable")
    if variable is not None:
        _check_variable_name(variable, t.key("variable"), t)
    t.done()
    return Shares(variable=variable, **values)


def _faker_provider(name: str, key: str, t: _Table) -> None:
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(0)
    member = None
    if name.isidentifier() and not name.startswith("_") and name not in _NOT_PROVIDERS:
        try:
            member = getattr(fake, name, None)
        except (AttributeError, TypeError):
            member = None
    if not callable(member):
        t.fail(key, f"faker has no provider {name!r}")
    try:
        member()
    except Exception as exc:  # a provider that needs arguments
        t.fail(key, f"faker provider {name!r} cannot be called without arguments: {exc}")


def _variables(t: _Table | None) -> tuple[tuple[str, VariableSpec], ...]:
    if t is None:
        return ()
    out = []
    for name in list(t.data):
        key = t.key(f'"{name}"' if "." in name else name)
        _check_variable_name(name, key, t)
        value = t.take(name)
        limit = CALL_VARIABLE_MAX_BYTES if name in CALL_VARIABLE_NAMES else None
        if isinstance(value, list):
            if not value or not all(isinstance(v, str) for v in value):
                t.fail(key, "a list must hold one or more strings")
            if limit and any(len(v.encode()) > limit for v in value):
                t.fail(key, f"a value is longer than {limit} bytes")
            spec = VariableSpec("choice", values=tuple(value))
        elif isinstance(value, str) and value.startswith("faker:"):
            _faker_provider(value[len("faker:") :], key, t)
            spec = VariableSpec("faker", value[len("faker:") :])
        elif isinstance(value, str) and value:
            if limit and len(value.encode()) > limit:
                t.fail(key, f"is longer than {limit} bytes")
            spec = VariableSpec("template", value)
        else:
            t.fail(key, "must be a template string, 'faker:PROVIDER' or a list of strings")
        out.append((name, spec))
    return tuple(out)


def _queue(dn: str, t: _Table) -> Profile:
    if not _DN.match(dn):
        t.fail(t.path, f"the queue key must be its DN, digits (got {dn!r})")
    name = t.string("name", "")
    caller = t.string("caller", DEFAULT_CALLER)
    if caller.count("#") < 4 or not re.fullmatch(r"\+?[0-9#]+", caller):
        t.fail(t.key("caller"), "must be a number template with at least four '#' digits")
    arrivals = _arrivals(t.table("arrivals", required=True))  # type: ignore[arg-type]
    handle_time = _handle_time(t.table("handle_time", required=True))  # type: ignore[arg-type]
    patience = _patience(t.table("patience"))
    shares = _shares(t.table("shares"))
    variables = _variables(t.table("variables"))
    t.done()
    return Profile(dn, arrivals, handle_time, patience, shares, variables, name, caller)


def parse_profile(data: Mapping[str, Any], *, name: str = "", source: str = "") -> TrafficProfile:
    """A profile from already parsed TOML (a dict). `name` is used if the data has none."""
    t = _Table(data, "", source or name or "profile")
    name = t.string("name", name) or ""
    if not name:
        t.fail("name", "is required")
    description = t.string("description", "")
    seed = t.take("seed", 1)
    if isinstance(seed, bool) or not isinstance(seed, int):
        t.fail("seed", f"must be an integer (got {seed!r})")
    sl_seconds = t.number("sl_seconds", 20.0, positive=True)
    queues_table = t.table("queues", required=True)
    assert queues_table is not None
    queues = {}
    for dn in list(queues_table.data):
        sub = queues_table.table(dn)
        assert sub is not None
        queues[dn] = _queue(dn, sub)
    if not queues:
        t.fail("queues", "must hold at least one queue (a table keyed by its DN)")
    t.done()
    return TrafficProfile(
        name=name,
        queues=queues,
        seed=seed,
        sl_seconds=sl_seconds or 20.0,
        description=description or "",
        source=source or None,
    )


def shipped_profiles() -> list[str]:
    """Names of the profiles that ship with the project."""
    return sorted(p.stem for p in SHIPPED_PROFILES.glob("*.toml"))


def resolve_profile(path_or_name: str | Path) -> Path:
    """A path as given if it exists (or looks like a path), else a shipped profile's file."""
    path = Path(path_or_name)
    if path.exists() or path.suffix == ".toml" or len(path.parts) > 1:
        if not path.is_file():
            raise ProfileError(f"{path}: no such profile file")
        return path
    shipped = SHIPPED_PROFILES / f"{path_or_name}.toml"
    if not shipped.is_file():
        names = ", ".join(shipped_profiles()) or "none"
        raise ProfileError(f"{path_or_name}: no such profile (shipped: {names}; or give a path)")
    return shipped


def load_profile(path_or_name: str | Path) -> TrafficProfile:
    """Read a profile: a TOML file's path, or the name of a shipped profile (`burst`)."""
    path = resolve_profile(path_or_name)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc}") from exc
    return parse_profile(data, name=path.stem, source=str(path))


# -- call data --------------------------------------------------------------------------------


class CallData:
    """The customers of one queue: their numbers and call variables (seeded faker)."""

    def __init__(self, profile: Profile, seed: int) -> None:
        from faker import Faker

        self.profile = profile
        self.fake = Faker("en_US")
        self.fake.seed_instance(f"{seed}/{profile.dn}/faker")
        self.rng = random.Random(f"{seed}/{profile.dn}/choices")

    def number(self) -> str:
        return self.fake.numerify(self.profile.caller)

    def variables(self, disposition: str | None = None) -> dict[str, str]:
        out = {}
        for name, spec in self.profile.variables:
            value = spec.make(self.fake, self.rng)
            if name in CALL_VARIABLE_NAMES:
                value = value.encode()[:CALL_VARIABLE_MAX_BYTES].decode(errors="ignore")
            out[name] = value
        if self.profile.shares.variable:
            out[self.profile.shares.variable] = disposition or "none"
        return out


# -- live traffic -----------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class TrafficCall:
    """One customer of the generator. Times are model seconds."""

    dn: str
    number: str
    call_id: str
    arrived: float
    patience: float | None
    handle_time: float
    disposition: str | None
    answered_at: float | None = None
    ended_at: float | None = None
    # "customer" (hung up after the handle time), "abandoned" (patience ran out),
    # "agent" (ended after the answer by someone else), "unanswered" (ended otherwise)
    ended_by: str = ""
    hanging_up: str = ""  # set while the generator itself hangs up
    timer: Timer | None = None  # patience, then the handle time

    @property
    def wait(self) -> float | None:
        return None if self.answered_at is None else self.answered_at - self.arrived


@dataclass(slots=True)
class QueueCounters:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    customer_hangups: int = 0
    agent_hangups: int = 0
    ended_unanswered: int = 0
    inject_errors: int = 0
    answered_within_sl: int = 0
    abandoned_within_sl: int = 0
    wait_total: float = 0.0
    max_wait: float = 0.0
    abandon_wait_total: float = 0.0


@dataclass(eq=False)
class _QueueRun:
    profile: Profile
    arrivals_rng: random.Random
    calls_rng: random.Random
    data: CallData
    counters: QueueCounters = field(default_factory=QueueCounters)
    waiting: dict[str, TrafficCall] = field(default_factory=dict)  # by number, unanswered
    talking: dict[str, TrafficCall] = field(default_factory=dict)  # by number, answered
    next_timer: Timer | None = None


class TrafficGenerator:
    """Customers calling the model by a profile, on the model's clock.

    `on_change()` is called after every change of the counters (the simulator wakes its
    waiters with it). `phone_event(number, event)` must receive the model's phone events.
    """

    def __init__(
        self,
        model: ContactCenter,
        profile: TrafficProfile,
        *,
        on_change: Callable[[], None] | None = None,
        history: int = 1000,
    ) -> None:
        self.model = model
        self.env = model.env
        self.profile = profile
        self.on_change = on_change or (lambda: None)
        self.history: deque[TrafficCall] = deque(maxlen=history)  # the latest ended calls
        self.running = False
        self.started_at = 0.0
        self.stopped_at: float | None = None
        self._runs: dict[str, _QueueRun] = {}
        self._by_number: dict[str, TrafficCall] = {}
        self._reserved = self._agent_numbers()
        self.check_queues()

    def _agent_numbers(self) -> set[str]:
        cfg = self.model.config
        return {a.dial_number for a in cfg.agents} | {a.extension for a in cfg.agents}

    def check_queues(self) -> None:
        """Every DN of the profile must be a queue DN of the roster."""
        dns = {q.dn for q in self.model.config.queues}
        for dn in self.profile.queues:
            if dn not in dns:
                known = ", ".join(sorted(dns)) or "none"
                raise ProfileError(
                    f"{self.profile.source or self.profile.name}: queues.{dn}: not a queue DN "
                    f"of the simulator's roster (queues: {known})"
                )

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the profile now (model time): its time 0 is `env.now`."""
        self._runs = {
            dn: _QueueRun(
                profile=q,
                arrivals_rng=self.profile.rng(dn, "arrivals"),
                calls_rng=self.profile.rng(dn, "calls"),
                data=CallData(q, self.profile.seed),
            )
            for dn, q in self.profile.queues.items()
        }
        self._by_number = {}
        self.history.clear()
        self.running = True
        self.started_at = self.env.now
        self.stopped_at = None
        for run in self._runs.values():
            self._plan_next(run)
        self.on_change()

    def stop(self) -> None:
        """No more arrivals. Customers already calling still abandon or hang up."""
        if not self.running:
            return
        self.running = False
        self.stopped_at = self.env.now
        for run in self._runs.values():
            if run.next_timer:
                run.next_timer.cancel()
                run.next_timer = None
        self.on_change()

    def reset(self) -> None:
        """The world was reset: every call is gone. Start over (counters, profile time and
        random streams), so the same profile repeats exactly."""
        was_running = self.running
        for call in self._by_number.values():
            if call.timer:
                call.timer.cancel()
        for run in self._runs.values():
            if run.next_timer:
                run.next_timer.cancel()
        self._runs, self._by_number = {}, {}
        self.running = False
        if was_running:
            self.start()

    @property
    def elapsed(self) -> float:
        """Model seconds of profile time so far."""
        end = self.env.now if self.stopped_at is None else self.stopped_at
        return max(end - self.started_at, 0.0)

    # -- arrivals -----------------------------------------------------------------------------

    def _plan_next(self, run: _QueueRun) -> None:
        now = self.env.now - self.started_at
        t = run.profile.next_arrival(now, run.arrivals_rng)
        if t is None:
            run.next_timer = None
            return
        run.next_timer = schedule(self.env, t - now, lambda: self._arrive(run))

    def _arrive(self, run: _QueueRun) -> None:
        run.next_timer = None
        if not self.running:
            return
        self._plan_next(run)
        q, rng = run.profile, run.calls_rng
        patience = q.sample_patience(rng)
        handle_time = q.sample_handle_time(rng)
        disposition = q.sample_disposition(rng)
        number = run.data.number()
        for _ in range(1000):  # a number of its own: its handset tells answered and ended
            if number not in self._by_number and number not in self._reserved:
                break
            number = run.data.number()
        else:
            run.counters.inject_errors += 1  # the caller template has too few digits
            self.on_change()
            return
        variables = run.data.variables(disposition)
        call = TrafficCall(q.dn, number, "", self.env.now, patience, handle_time, disposition)
        # Known before the call exists: the model may report on its handset at once.
        self._by_number[number] = call
        run.waiting[number] = call
        try:
            call.call_id = self.model.inject_call(q.dn, number, variables)
        except ApiErrorException:
            del self._by_number[number], run.waiting[number]
            run.counters.inject_errors += 1
            self.on_change()
            return
        run.counters.offered += 1
        if call.ended_at is None and call.answered_at is None and patience is not None:
            call.timer = schedule(self.env, patience, lambda: self._give_up(call))
        self.on_change()

    # -- customers ----------------------------------------------------------------------------

    def _give_up(self, call: TrafficCall) -> None:
        """Patience ran out: a customer still unanswered hangs up (abandons)."""
        call.timer = None
        if call.answered_at is not None or call.ended_at is not None:
            return
        call.hanging_up = "abandoned"
        try:
            self.model.hangup_call(call.call_id)
        except ApiErrorException:
            self._ended(call, "unanswered")  # the model no longer knows it
        finally:
            call.hanging_up = ""

    def _hang_up(self, call: TrafficCall) -> None:
        """The handle time is over: the customer hangs up, wherever the call went."""
        call.timer = None
        if call.ended_at is not None:
            return
        call.hanging_up = "customer"
        try:
            self.model.phone_hangup(call.number)
        except ApiErrorException:
            self._ended(call, "agent")  # the customer's leg was already gone
        finally:
            call.hanging_up = ""

    def phone_event(self, number: str, event: Mapping[str, Any]) -> None:
        """A model phone event; only the generator's customers' handsets matter."""
        call = self._by_number.get(number)
        if call is None:
            return
        kind = event.get("event")
        if kind == "connected" and call.answered_at is None and call.ended_at is None:
            self._answered(call)
        elif kind == "ended" and call.ended_at is None:
            answered = call.answered_at is not None
            self._ended(call, call.hanging_up or ("agent" if answered else "unanswered"))

    def _answered(self, call: TrafficCall) -> None:
        run = self._runs[call.dn]
        call.answered_at = self.env.now
        wait = call.answered_at - call.arrived
        c = run.counters
        c.answered += 1
        c.wait_total += wait
        c.max_wait = max(c.max_wait, wait)
        if wait <= self.profile.sl_seconds:
            c.answered_within_sl += 1
        run.waiting.pop(call.number, None)
        run.talking[call.number] = call
        if call.timer:
            call.timer.cancel()
        call.timer = schedule(self.env, call.handle_time, lambda: self._hang_up(call))
        self.on_change()

    def _ended(self, call: TrafficCall, how: str) -> None:
        run = self._runs.get(call.dn)
        if run is None or call.ended_at is not None:
            return
        call.ended_at = self.env.now
        call.ended_by = how
        if call.timer:
            call.timer.cancel()
            call.timer = None
        c = run.counters
        if how == "abandoned":
            c.abandoned += 1
            waited = call.ended_at - call.arrived
            c.abandon_wait_total += waited
            if waited <= self.profile.sl_seconds:
                c.abandoned_within_sl += 1
        elif how == "customer":
            c.customer_hangups += 1
        elif how == "agent":
            c.agent_hangups += 1
        else:
            c.ended_unanswered += 1
        run.waiting.pop(call.number, None)
        run.talking.pop(call.number, None)
        self._by_number.pop(call.number, None)
        self.history.append(call)
        self.on_change()

    # -- counters -----------------------------------------------------------------------------

    def calls(self) -> Iterable[TrafficCall]:
        """Customers on the line now (unanswered or talking)."""
        return self._by_number.values()

    def snapshot(self) -> dict[str, Any]:
        """Counters per queue and in total (JSON-ready, camelCase like the control API).

        offered = answered + abandoned + endedUnanswered + waiting, and
        answered = talking + customerHangups + agentHangups.
        """
        queued: set[str] = set()
        for stats in self.model.queue_stats():
            queued.update(stats["waitingCalls"])
        elapsed = self.elapsed
        queues = []
        for dn, run in self._runs.items():
            in_queue = sum(1 for call in run.waiting.values() if call.call_id in queued)
            queues.append(
                {
                    "dn": dn,
                    "name": run.profile.name,
                    "callsPerHourNow": run.profile.rate_at(elapsed),
                    "meanCallsPerHour": run.profile.calls_per_hour,
                    "expectedOffered": run.profile.expected_calls(0.0, elapsed),
                    "aht": run.profile.aht,
                    "handleDistribution": run.profile.handle_time.distribution,
                    "handleSd": run.profile.handle_time.sd,
                    "meanPatience": run.profile.mean_patience,
                    **_counters(run.counters, len(run.waiting), in_queue, len(run.talking)),
                }
            )
        totals = QueueCounters()
        for run in self._runs.values():
            for name in QueueCounters.__dataclass_fields__:
                if name == "max_wait":
                    totals.max_wait = max(totals.max_wait, run.counters.max_wait)
                else:
                    setattr(totals, name, getattr(totals, name) + getattr(run.counters, name))
        return {
            "profile": self.profile.name,
            "source": self.profile.source,
            "seed": self.profile.seed,
            "running": self.running,
            "startedAt": self.started_at,
            "elapsed": elapsed,
            "slSeconds": self.profile.sl_seconds,
            "totals": _counters(
                totals,
                sum(len(r.waiting) for r in self._runs.values()),
                sum(q["inQueue"] for q in queues),
                sum(len(r.talking) for r in self._runs.values()),
            ),
            "queues": queues,
        }


def _counters(c: QueueCounters, waiting: int, in_queue: int, talking: int) -> dict[str, Any]:
    finished = c.answered + c.abandoned  # calls whose wait is over
    return {
        "offered": c.offered,
        "answered": c.answered,
        "abandoned": c.abandoned,
        "waiting": waiting,  # not answered yet: in the queue or ringing at an agent
        "inQueue": in_queue,  # of those, queued (not ringing)
        "talking": talking,
        "customerHangups": c.customer_hangups,
        "agentHangups": c.agent_hangups,
        "endedUnanswered": c.ended_unanswered,
        "injectErrors": c.inject_errors,
        "answeredWithinSl": c.answered_within_sl,
        "abandonedWithinSl": c.abandoned_within_sl,
        "waitSecondsTotal": c.wait_total,
        "abandonWaitSecondsTotal": c.abandon_wait_total,
        "asa": c.wait_total / c.answered if c.answered else None,
        "maxWait": c.max_wait,
        "serviceLevel": c.answered_within_sl / finished if finished else None,
        "abandonRate": c.abandoned / finished if finished else None,
    }
