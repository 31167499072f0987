"""A readable summary of a Cucumber JSON report (pytest-bdd's `--cucumberjson`).

    python -m scenarios.report reports/cucumber.json

One line per scenario (passed or failed, and how long it took); for a failure, the step
that failed, where it is, and its error (what was expected, what the app showed, the last
events each agent saw). Exits 1 when a scenario failed or the report is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ERROR_LINES = 24


@dataclass
class Outcome:
    feature: str
    uri: str
    name: str
    line: int
    status: str  # passed | failed | skipped
    seconds: float
    failed_step: str = ""
    failed_line: int = 0
    error: list[str] = field(default_factory=list)


def error_lines(message: str) -> list[str]:
    """The assertion part of a pytest traceback: its `E ` lines, else its last lines."""
    lines = [ln[1:].strip() for ln in message.splitlines() if ln.startswith("E ")]
    if not lines:
        lines = [ln.rstrip() for ln in message.strip().splitlines()[-6:]]
    return [ln for ln in lines if ln][:ERROR_LINES]


def outcomes(report: list[dict[str, Any]]) -> list[Outcome]:
    found = []
    for feature in report:
        for element in feature.get("elements", []):
            steps = element.get("steps", [])
            seconds = sum(s.get("result", {}).get("duration", 0) for s in steps) / 1e9
            statuses = [s.get("result", {}).get("status", "skipped") for s in steps]
            status = "failed" if "failed" in statuses else "passed"
            if statuses and all(s == "skipped" for s in statuses):
                status = "skipped"
            name = element.get("name", "")
            test_id = str(element.get("id", ""))
            if test_id.endswith("]") and "[" in test_id:  # an outline's example
                name += " [" + test_id.split("[", 1)[1]
            outcome = Outcome(
                feature=feature.get("name", ""),
                uri=feature.get("uri", ""),
                name=name,
                line=element.get("line", 0),
                status=status,
                seconds=seconds,
            )
            for step in steps:
                result = step.get("result", {})
                if result.get("status") == "failed":
                    outcome.failed_step = f"{step.get('keyword', '').strip()} {step.get('name')}"
                    outcome.failed_line = step.get("line", 0)
                    outcome.error = error_lines(result.get("error_message", ""))
                    break
            found.append(outcome)
    return found


def render(found: list[Outcome]) -> str:
    out: list[str] = []
    current = None
    for o in found:
        if o.feature != current:
            current = o.feature
            out += ["", f"{o.feature} ({o.uri})"]
        mark = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}[o.status]
        out.append(f"  {mark}  {o.name}  [{o.seconds:.2f}s]")
        if o.status == "failed":
            out.append(f"        failed step: {o.failed_step}  ({o.uri}:{o.failed_line})")
            out += [f"        | {line}" for line in o.error]
    passed = sum(o.status == "passed" for o in found)
    failed = sum(o.status == "failed" for o in found)
    skipped = sum(o.status == "skipped" for o in found)
    features = len({o.uri for o in found})
    total = sum(o.seconds for o in found)
    out += [
        "",
        f"{features} features, {len(found)} scenarios: {passed} passed, {failed} failed"
        + (f", {skipped} skipped" if skipped else "")
        + f" ({total:.1f}s in steps)",
    ]
    return "\n".join(out).lstrip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Summarise a Cucumber JSON report.")
    parser.add_argument("report", nargs="?", default="reports/cucumber.json")
    args = parser.parse_args(argv)
    path = Path(args.report)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        print(f"no readable Cucumber report at {path}: {exc}")
        return 1
    found = outcomes(report)
    if not found:
        print(f"{path}: no scenario ran (see pytest's output above)")
        return 1
    print(render(found))
    return 1 if any(o.status == "failed" for o in found) else 0


if __name__ == "__main__":
    sys.exit(main())
