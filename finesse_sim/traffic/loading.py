"""Reading traffic profiles: TOML files validated key by key, with errors that name the file
and the key (`queues.8000.handle_time.sd: is required`).

`load_profile(path_or_name)` reads a file, or a profile shipped with the simulator by its
bare name (`quiet_hour`, `busy_monday`, `burst`: package data in `profiles/`, read with
importlib.resources); `parse_profile(data)` takes TOML already parsed.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePath
from typing import Any

from connector.finesse.models import CALL_VARIABLE_NAMES, ECC_PREFIX
from finesse_sim.traffic.profile import (
    CALL_VARIABLE_MAX_BYTES,
    DEFAULT_CALLER,
    DISPOSITIONS,
    DISTRIBUTIONS,
    ENDS,
    PATIENCE_DISTRIBUTIONS,
    Arrivals,
    HandleTime,
    Patience,
    Profile,
    ProfileError,
    Shares,
    TrafficProfile,
    VariableSpec,
)

# The profiles that ship with the simulator; a bare name is looked up here.
SHIPPED_PROFILES: Traversable = resources.files(__package__).joinpath("profiles")
_DN = re.compile(r"^\+?[0-9]+$")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
# Faker members that are not data providers.
_NOT_PROVIDERS = frozenset({"seed", "seed_instance", "seed_locale", "random", "format", "parse"})


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
    """Names of the profiles that ship with the simulator."""
    names = (p.name for p in SHIPPED_PROFILES.iterdir() if p.is_file())
    return sorted(name.removesuffix(".toml") for name in names if name.endswith(".toml"))


def resolve_profile(path_or_name: str | Path) -> Traversable:
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
    return parse_profile(data, name=PurePath(path.name).stem, source=str(path))
