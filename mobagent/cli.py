"""`mobagent SUBCOMMAND ...`: dispatch to the package that owns the subcommand.

Subcommands are imported lazily so that `mobagent sim` never loads the connector and the
other way round (the packages may not import each other's internals: docs/architecture.md).
"""

from __future__ import annotations

import importlib
import sys
from importlib import metadata

# subcommand -> (module with a `main(argv) -> int`, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("finesse_sim.cli", "run the simulated Cisco Finesse (REST, XMPP, control API)"),
    "connector": ("connector.cli", "run the Generic Connector (mobile API over Finesse)"),
    "app": ("mobile_app.cli", "run the Mobile App Server: the agent's web app, /api/ forwarded"),
    "agents": ("mobile_sim.cli", "simulated mobile agents work a shift through the connector"),
    "lab": ("scenarios.lab", "try the agent's app by hand: simulator, connector, app server"),
    "model": ("scenarios.model.cli", "offline traffic model: KPIs, Erlang check, staffing"),
    "demo": ("scenarios.demo.cli", "the whole lab live for a minute: dashboard and report"),
    "bench": ("scenarios.bench.connector.cli", "connector push latency, loss, memory under load"),
}


def _usage() -> str:
    lines = ["usage: mobagent SUBCOMMAND [options]", "       mobagent --version", ""]
    lines += ["subcommands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "`mobagent SUBCOMMAND --help` shows the options of one subcommand."]
    return "\n".join(lines)


def version() -> str:
    """The installed distribution's version (pyproject.toml's, once `pip install`ed)."""
    try:
        return metadata.version("mobagent")
    except metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:  # a command is required: say how to give one, as a usage error
        print(_usage(), file=sys.stderr)
        return 2
    if args[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if args[0] in ("-V", "--version"):
        print(f"mobagent {version()}")
        return 0
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"mobagent: unknown subcommand {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
