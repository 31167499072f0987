"""The step catalogue (docs/steps.md) matches the code, and every step written in
features/ has exactly one definition in the library."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scenarios.steps import catalogue


def test_the_catalogue_is_up_to_date():
    expected = catalogue.render()
    current = catalogue.DOC.read_text(encoding="utf-8") if catalogue.DOC.exists() else ""
    assert current == expected, (
        "docs/steps.md is stale: run `.venv/bin/python -m scenarios.steps.catalogue`"
    )


def test_every_step_is_documented():
    undocumented = [f"{s.keyword} {s.pattern}" for s in catalogue.steps() if not s.doc]
    assert not undocumented, f"steps without a docstring: {undocumented}"


def test_every_step_used_in_the_features_resolves_to_exactly_one_definition():
    library = catalogue.steps()
    used = catalogue.used_steps()
    assert used, "no feature found"
    problems = []
    for step in used:
        found = catalogue.resolve(step, library)
        if len(found) != 1:
            matches = [f"{s.keyword} {s.pattern}" for s in found] or "no definition"
            problems.append(f"{step.where}: {step.type} {step.text!r} -> {matches}")
    assert not problems, "\n".join(problems)


def test_every_scenario_checks_the_app_and_finesse():
    """A connector that hides a mismatch must fail: each scenario checks what the app shows
    (or answers) and what Finesse holds."""
    problems = catalogue.unchecked(catalogue.used_steps())
    assert not problems, f"{catalogue.APP_AND_FINESSE_RULE}:\n" + "\n".join(problems)


def write_feature(folder: Path, *thens: str) -> Path:
    folder.mkdir(exist_ok=True)
    steps = "\n".join(f"    {'Then' if i == 0 else 'And'} {t}" for i, t in enumerate(thens))
    (folder / "one.feature").write_text(
        "Feature: One\n  Scenario: Only one\n    Given the simulator clock runs 100 times "
        f"faster\n{steps}\n",
        encoding="utf-8",
    )
    return folder


@pytest.mark.parametrize(
    ("thens", "says"),
    [
        (["agent 1001's app shows the call on hold"], "checks the app but not Finesse"),
        (['agent 1001 is NOT_READY with reason "Break" in Finesse'], "but not the app"),
        (["agent 1001's phone rings"], "checks neither"),
    ],
)
def test_the_rule_says_what_to_add(tmp_path: Path, thens: list[str], says: str):
    problems = catalogue.unchecked(catalogue.used_steps(write_feature(tmp_path / "f", *thens)))
    assert len(problems) == 1
    assert problems[0].startswith("f/one.feature: Only one: ")
    assert says in problems[0]
    assert catalogue.BOTH_EXAMPLE in problems[0]


def test_one_scenario_that_checks_both_obeys_the_rule(tmp_path: Path):
    folder = write_feature(tmp_path / "f", "agent 1001 is READY in the app and in Finesse")
    assert catalogue.unchecked(catalogue.used_steps(folder)) == []


def test_the_guides_example_resolves_and_obeys_the_rule(tmp_path: Path):
    """The feature docs/writing-scenarios.md tells QA to write, one scenario as it is there,
    passes every check of this file."""
    guide = (catalogue.ROOT / "docs" / "writing-scenarios.md").read_text(encoding="utf-8")
    example = re.search(r"```gherkin\n(Feature:.*?)```", guide, re.S)
    assert example, "no ```gherkin block starting with Feature: in the guide"
    folder = tmp_path / "features"
    folder.mkdir()
    (folder / "my_flow.feature").write_text(example.group(1), encoding="utf-8")
    used = catalogue.used_steps(folder)
    library = catalogue.steps()
    assert used and all(len(catalogue.resolve(step, library)) == 1 for step in used)
    assert catalogue.unchecked(used) == []
