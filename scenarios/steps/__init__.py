"""The pytest-bdd step library over the real stack (simulated Finesse + Generic Connector).

`tests/bdd/conftest.py` makes these steps visible to the feature tests with
`globals().update(step_fixtures())`; `python -m scenarios.steps.catalogue` writes their
catalogue, `docs/steps.md`.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

STEP_MODULES = (
    "scenarios.steps.agent_steps",
    "scenarios.steps.call_steps",
    "scenarios.steps.check_steps",
    "scenarios.steps.resilience_steps",
    "scenarios.steps.push_steps",
)
STEPDEF_PREFIX = "pytestbdd_stepdef_"


def step_modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in STEP_MODULES]


def step_fixtures() -> dict[str, Any]:
    """Every step definition's fixture, by name, to put in a conftest's namespace."""
    found: dict[str, Any] = {}
    for module in step_modules():
        for name, value in vars(module).items():
            if name.startswith(STEPDEF_PREFIX):
                if name in found:
                    raise RuntimeError(f"step {name} is defined twice")
                found[name] = value
    return found
