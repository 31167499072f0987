"""The pytest-bdd binding of `features/`: the step library, the stack fixtures, the guard
against `async def` steps, and failures that name the step and what each agent saw."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry

from scenarios.steps import step_fixtures
from scenarios.steps.world import Stack, World, explain_world, loop_thread

globals().update(step_fixtures())


class AsyncStepError(TypeError):
    """An `async def` step: pytest-bdd would call it, get a coroutine, and never run it."""


def pytest_bdd_before_step_call(
    request: pytest.FixtureRequest,
    feature: Any,
    scenario: Any,
    step: Any,
    step_func: Any,
    step_func_args: dict[str, Any],
) -> None:
    if inspect.iscoroutinefunction(step_func):
        raise AsyncStepError(
            f"step {step.keyword} {step.name!r} is implemented by an async def "
            f"({step_func.__module__}.{step_func.__qualname__}): pytest-bdd would skip it "
            "silently. Write `@sync` under the step decorator (scenarios.steps.world.sync)."
        )


def pytest_bdd_step_error(
    request: pytest.FixtureRequest,
    feature: Any,
    scenario: Any,
    step: Any,
    step_func: Any,
    step_func_args: dict[str, Any],
    exception: BaseException,
) -> None:
    """Say which step failed, and what every agent's app showed and saw last."""
    note = f"failed step: {step.keyword} {step.name} ({feature.rel_filename}:{step.line_number})"
    world = step_func_args.get("world")
    if isinstance(world, World) and world.agents:
        note += "\n" + explain_world(world)
    if hasattr(exception, "add_note"):
        exception.add_note(note)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each scenario also answers to its feature file's name: `-k hold_and_retrieve` runs
    the scenarios of features/hold_and_retrieve.feature."""
    for item in items:
        func = getattr(item, "obj", None)
        template = scenario_wrapper_template_registry.get(func) if func is not None else None
        if template is not None:
            item.extra_keyword_matches.add(Path(template.feature.filename).stem)


@pytest.fixture(scope="package")
def stack() -> Iterator[Stack]:
    """The simulator and the connector, started once for the feature tests and stopped
    after them: its connector's GC policy freezes the heap, which other tests (of that
    very policy) must not find happening under them."""
    runner = loop_thread()
    started = runner.run(Stack().start(), 60)
    try:
        yield started
    finally:
        runner.run(started.stop(), 30)
        runner.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A scenario tagged @browser runs twice: its app steps through the API, then through
    the agent's app in Chromium (scenarios.browser), with the same feature text."""
    if metafunc.definition.get_closest_marker("browser") is None:
        return
    if "app_driver" not in metafunc.fixturenames:  # steps ask for `world` only at run time
        metafunc.fixturenames.append("app_driver")
    metafunc.parametrize("app_driver", ["api", "browser"], indirect=True)


@pytest.fixture
def app_driver(request: pytest.FixtureRequest) -> str:
    return getattr(request, "param", "api")


@pytest.fixture
def world(stack: Stack, app_driver: str) -> Iterator[World]:
    """One scenario's agents and calls; afterwards the simulator is reset and every
    session signed out of the connector."""
    scenario_world = World(stack, app_driver)
    yield scenario_world
    loop_thread().run(scenario_world.cleanup(), 30)
