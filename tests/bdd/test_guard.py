"""The conftest guard: pytest-bdd calls an `async def` step, gets a coroutine and never runs
it, so the scenario would pass without doing anything. The guard makes it fail."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from scenarios.steps.world import sync

pytest_plugins = ["pytester"]
CONFTEST = Path(__file__).with_name("conftest.py")
GUARD_CONFTEST = f"""
import importlib.util

_spec = importlib.util.spec_from_file_location("bdd_conftest_under_test", {str(CONFTEST)!r})
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
pytest_bdd_before_step_call = _module.pytest_bdd_before_step_call
"""
FEATURE = """
Feature: The guard
  Scenario: A step written as an async def
    Given an async step
"""
STEPS = """
from pytest_bdd import given, scenarios

RAN = []


@given("an async step")
async def _():
    RAN.append(True)


scenarios("guard.feature")


def test_the_async_step_never_ran():
    assert RAN == []
"""


INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\n"


def load_conftest():
    spec = importlib.util.spec_from_file_location("bdd_conftest_direct", CONFTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def call_guard(module, step_func):
    step = SimpleNamespace(keyword="Given", name="an async step")
    module.pytest_bdd_before_step_call(
        request=None,
        feature=None,
        scenario=None,
        step=step,
        step_func=step_func,
        step_func_args={},
    )


def test_the_guard_rejects_an_async_def_step():
    module = load_conftest()

    async def step():
        pass

    with pytest.raises(module.AsyncStepError, match="async def"):
        call_guard(module, step)


def test_the_guard_lets_sync_and_wrapped_steps_through():
    module = load_conftest()

    def plain():
        pass

    @sync
    async def wrapped():
        pass

    call_guard(module, plain)
    call_guard(module, wrapped)


def test_a_feature_with_an_async_step_fails_with_the_guard(pytester: pytest.Pytester):
    pytester.makeini(INI)
    pytester.makeconftest(GUARD_CONFTEST)
    pytester.makefile(".feature", guard=textwrap.dedent(FEATURE))
    pytester.makepyfile(test_guarded=STEPS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*AsyncStepError*an async step*async def*"])


def test_without_the_guard_the_async_step_passes_silently(pytester: pytest.Pytester):
    """Why the guard exists: the same feature 'passes' although its step never ran."""
    pytester.makeini(INI)
    pytester.makefile(".feature", guard=textwrap.dedent(FEATURE))
    pytester.makepyfile(test_unguarded=STEPS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "ignore::RuntimeWarning")
    result.assert_outcomes(passed=2)
