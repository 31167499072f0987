"""The step catalogue (docs/steps.md) matches the code, and every step written in
features/ has exactly one definition in the library."""

from __future__ import annotations

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
    checks: dict[str, list[str]] = {}
    for step in catalogue.used_steps():
        if step.type == "then":
            checks.setdefault(step.scenario, []).append(step.text)
    missing = []
    for scenario, texts in checks.items():
        app = any("app" in t or t.startswith(("it is refused", "it is accepted")) for t in texts)
        finesse = any("Finesse" in t for t in texts)
        if not (app and finesse):
            missing.append(scenario)
    assert not missing, f"scenarios that do not check both the app and Finesse: {missing}"


def test_every_feature_file_has_several_scenarios():
    counts = {}
    for step in catalogue.used_steps():
        counts.setdefault(step.where.split(":")[0], set()).add(step.where)
    thin = [path for path, _ in counts.items() if _count_scenarios(path) < 2]
    assert not thin, f"features with fewer than two scenarios: {thin}"


def _count_scenarios(path: str) -> int:
    text = (catalogue.ROOT / path).read_text(encoding="utf-8")
    return sum(
        line.strip().startswith(("Scenario:", "Scenario Outline:")) for line in text.splitlines()
    )
