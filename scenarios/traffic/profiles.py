"""Traffic profiles for the harness and the offline model.

The format (dataclasses, TOML loader, validation) lives in `finesse_sim.traffic`, because
the simulator itself runs live traffic (`mobagent sim --traffic PROFILE`) and may not import
`scenarios`. This module re-exports it and names the profiles shipped beside it in
`profiles/`: `quiet_hour`, `busy_monday`, `burst`.

    from scenarios.traffic.profiles import load_profile
    profile = load_profile("busy_monday")          # or a path to a TOML file
    sales = profile.queue("8000")
    sales.rate_at(3600.0)                          # calls per hour an hour in
    sales.sample_handle_time(rng), sales.sample_patience(rng)   # rng: random.Random
"""

from __future__ import annotations

from finesse_sim.traffic import (
    DEFAULT_CALLER,
    SHIPPED_PROFILES,
    Arrivals,
    CallData,
    HandleTime,
    Patience,
    Profile,
    ProfileError,
    Shares,
    TrafficProfile,
    VariableSpec,
    load_profile,
    parse_profile,
    resolve_profile,
    shipped_profiles,
)

PROFILES_DIR = SHIPPED_PROFILES

__all__ = [
    "DEFAULT_CALLER",
    "PROFILES_DIR",
    "Arrivals",
    "CallData",
    "HandleTime",
    "Patience",
    "Profile",
    "ProfileError",
    "Shares",
    "TrafficProfile",
    "VariableSpec",
    "load_profile",
    "parse_profile",
    "resolve_profile",
    "shipped_profiles",
]
