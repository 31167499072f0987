"""Who a simulated agent signs in as, and how: its id, extension and mobile mode."""

from __future__ import annotations

from dataclasses import dataclass

from mobile_sim.api import Mobile

MODES = ("CALL_BY_CALL", "NAILED_CONNECTION", "DESK")


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

    @property
    def mobile(self) -> Mobile | None:
        """What the login names as the mobile side; None for a desk agent."""
        return None if self.mode == "DESK" else Mobile(self.mode, self.dial_number)

    @property
    def call_control(self) -> bool:
        return self.mode != "DESK"
