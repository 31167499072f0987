"""Traffic profiles and live traffic: customers calling the running simulator.

- `profile`: the profile model (dataclasses) and its sampling: arrivals, handle time,
  patience. The one implementation: the offline model (`scenarios.model`) samples through it
  too, so a live run and its prediction draw the same way.
- `loading`: TOML files, validated with errors that name the file and the key; the shipped
  profiles (package data in `profiles/`).
- `calldata`: callers' numbers and call variables. `live`: the generator on the model clock.

It lives in the simulator because `mobagent sim --traffic PROFILE` runs it, and the
simulator may not import `scenarios`; the harness and the offline model import it from here.

    from finesse_sim.traffic import load_profile
    profile = load_profile("busy_monday")          # or a path to a TOML file
    sales = profile.queue("8000")
    sales.rate_at(3600.0)                          # calls per hour an hour in
    sales.sample_handle_time(rng), sales.sample_patience(rng)   # rng: random.Random
"""

from finesse_sim.traffic.calldata import CallData
from finesse_sim.traffic.live import QueueCounters, TrafficCall, TrafficGenerator
from finesse_sim.traffic.loading import (
    SHIPPED_PROFILES,
    load_profile,
    parse_profile,
    resolve_profile,
    shipped_profiles,
)
from finesse_sim.traffic.profile import (
    DEFAULT_CALLER,
    Arrivals,
    HandleTime,
    Patience,
    Profile,
    ProfileError,
    Shares,
    TrafficProfile,
    VariableSpec,
)

__all__ = [
    "DEFAULT_CALLER",
    "SHIPPED_PROFILES",
    "Arrivals",
    "CallData",
    "HandleTime",
    "Patience",
    "Profile",
    "ProfileError",
    "QueueCounters",
    "Shares",
    "TrafficCall",
    "TrafficGenerator",
    "TrafficProfile",
    "VariableSpec",
    "load_profile",
    "parse_profile",
    "resolve_profile",
    "shipped_profiles",
]
