"""The customers' side of a call: the caller's number and the call variables, made by a
profile's templates with a seeded faker (the same profile and seed give the same callers)."""

from __future__ import annotations

import random

from connector.finesse.models import CALL_VARIABLE_NAMES
from finesse_sim.traffic.profile import CALL_VARIABLE_MAX_BYTES, Profile


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
