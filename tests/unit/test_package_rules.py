"""The package rules of docs/architecture.md, checked on the source: every import statement
(at module level or inside a function) of every module of the installed packages."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = ("connector", "finesse_sim", "mobile_app", "mobile_sim", "scenarios", "mobagent")
# What the simulator shares with the connector: the Finesse wire format, nothing else.
WIRE_FORMAT = ("connector.finesse.models", "connector.finesse.codec", "connector.finesse.safexml")


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path = ROOT) -> Iterator[str]:
    """The absolute names a module imports (`from a.b import c` gives `a.b.c`, whether `c`
    is a module or a name in one)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    name = module_name(path, root)
    package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing package
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield from (f"{base}.{alias.name}" for alias in node.names)


def sources(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(packages: tuple[str, ...], allowed) -> list[str]:
    return [
        f"{module_name(path)} imports {name}"
        for path in sources(*packages)
        for name in imports(path)
        if not allowed(name)
    ]


def test_the_rules_see_lazy_and_relative_imports(tmp_path: Path):
    """The checker itself: an import inside a function is an import; a relative one is
    resolved against its package."""
    pkg = tmp_path / "connector" / "api"
    pkg.mkdir(parents=True)
    (pkg / "lazy.py").write_text(
        "def f():\n    from finesse_sim.model import acd\nfrom ..service import agents\n"
    )
    found = set(imports(pkg / "lazy.py", tmp_path))
    assert {"finesse_sim.model.acd", "connector.service.agents"} <= found


def test_the_connector_imports_nothing_of_the_lab():
    assert (
        violations(
            ("connector",),
            lambda n: not within(n, "finesse_sim", "mobile_sim", "scenarios", "tests"),
        )
        == []
    )


def test_the_connector_speaks_xmpp_through_its_own_client_not_slixmpp():
    """connector/finesse/xmpp_stream.py is the notification sessions' XMPP client (its cost
    per agent: docs/benchmarks.md); slixmpp is the lab's and the benchmark's."""
    assert violations(("connector",), lambda n: not within(n, "slixmpp")) == []


def test_the_simulator_shares_only_the_wire_format_with_the_connector():
    assert (
        violations(
            ("finesse_sim",),
            lambda n: (
                not within(n, "mobile_sim", "scenarios", "tests")
                and (not within(n, "connector") or within(n, *WIRE_FORMAT))
            ),
        )
        == []
    )


def test_the_app_server_knows_the_connector_only_by_its_public_api():
    assert (
        violations(
            ("mobile_app",),
            lambda n: not within(n, "connector", "finesse_sim", "mobile_sim", "scenarios", "tests"),
        )
        == []
    )


def test_only_the_connectors_command_line_may_host_the_app():
    """`mobagent connector --app` serves the app's files; nothing else of the connector
    knows the app exists."""
    found = [
        f"{module_name(path)} imports {name}"
        for path in sources("connector")
        for name in imports(path)
        if within(name, "mobile_app") and module_name(path) != "connector.cli"
    ]
    assert found == []


def test_simulated_agents_use_only_public_contracts():
    assert (
        violations(
            ("mobile_sim",),
            lambda n: not within(n, "connector", "finesse_sim", "scenarios", "tests"),
        )
        == []
    )


def test_nothing_outside_tests_imports_tests():
    assert violations(PACKAGES, lambda n: not within(n, "tests")) == []


def test_push_stands_on_the_stream_alone():
    """The push notifier is a sink and a few use cases: it knows the stream's frames, the
    domain error and the metrics' histogram, never the service layer, the API or the
    runtime (which wire it in)."""
    allowed = ("connector.push", "connector.stream", "connector.errors", "connector.metrics")
    assert len(sources("connector/push")) > 5
    assert (
        violations(
            ("connector/push",),
            lambda n: not within(n, "connector") or within(n, *allowed),
        )
        == []
    )


def test_the_service_layer_sees_the_state_store_only_through_its_port():
    """`connector.service` defines `StatePort`; the adapters in `connector.store` implement
    it. The service never imports an adapter; the adapters never import the API or the
    runtime (they are built by the runtime, one line per backend)."""
    assert violations(("connector/service",), lambda n: not within(n, "connector.store")) == []
    assert (
        violations(
            ("connector/store",),
            lambda n: not within(n, "connector.api", "connector.runtime", "connector.config"),
        )
        == []
    )


def connector_unit(name: str) -> str | None:
    """The part of the connector a module belongs to: its subpackage (`connector.finesse`)
    or, for a module directly under connector/, the module itself (`connector.runtime`)."""
    parts = name.split(".")
    if parts[0] != "connector" or len(parts) < 2:
        return None
    here = ROOT / "connector" / parts[1]
    return f"connector.{parts[1]}" if here.is_dir() or here.with_suffix(".py").exists() else None


def test_no_import_cycle_between_the_connectors_parts():
    graph: dict[str, set[str]] = {}
    for path in sources("connector"):
        here = connector_unit(module_name(path))
        for name in imports(path):
            there = connector_unit(name)
            if here and there and there != here:
                graph.setdefault(here, set()).add(there)
    assert "connector.service" in graph  # the graph is really built
    found = cycle(graph)
    assert found is None, f"import cycle: {' -> '.join(found or [])}"


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of a directed graph as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


@pytest.mark.parametrize(
    ("graph", "has_cycle"),
    [
        ({"a": {"b"}, "b": {"c"}}, False),
        ({"a": {"b"}, "b": {"a"}}, True),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
    ],
)
def test_the_cycle_finder_finds_cycles(graph, has_cycle):
    assert (cycle(graph) is not None) is has_cycle
