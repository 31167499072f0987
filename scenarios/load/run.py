"""Run the Locust load test against a simulator and a connector started for it.

    python -m scenarios.load.run --users N --spawn-rate R --run-time 30s [--workers 2]
                                 [--calls-per-minute 30] [--shift-seconds S] [--speed 1]
                                 [--csv PREFIX]

Starts `mobagent sim` with a generated roster of N agents per Locust process
(scenarios.bench.roster), `mobagent connector`, then Locust headless: one process, or with
`--workers W` a `--master` and W `--worker` processes on 127.0.0.1. Locust runs N
MobileAgentUsers plus one TrafficUser (so `-u N+1`). Everything is stopped at the end
(killed on failure); prints Locust's stats and a one-line verdict (failures == 0). Locust
writes PREFIX_*.csv and its final statistics, PREFIX.json, which the verdict reads.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from scenarios.bench.procs import ROOT, BenchError, child_setup, connector_command, running
from scenarios.bench.roster import roster_toml
from scenarios.stack.processes import free_port

HOST = "127.0.0.1"
LOCUSTFILE = "scenarios/load/locustfile.py"


def locust_cmd(args: argparse.Namespace, connector: str, csv_prefix: str) -> list[str]:
    return [
        *(sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless"),
        *("-u", str(args.users + 1), "-r", str(args.spawn_rate), "-t", args.run_time),
        *("--host", connector, "--csv", csv_prefix, "--json-file", csv_prefix),
        *("--stop-timeout", "15"),
        *("--calls-per-minute", str(args.calls_per_minute), "--only-summary"),
        *("--shift-seconds", str(args.shift_seconds)),
    ]


def run_locust(args: argparse.Namespace, connector: str, env: dict[str, str], csv_prefix: str):
    """Locust's exit status; its output goes to this process's stdout/stderr."""
    cmd = locust_cmd(args, connector, csv_prefix)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        if args.workers:
            port = free_port(HOST)
            cmd += ["--master", "--expect-workers", str(args.workers)]
            cmd += ["--master-bind-host", HOST, "--master-bind-port", str(port)]
            master = subprocess.Popen(cmd, cwd=ROOT, env=env, preexec_fn=child_setup(None))
            procs.append(master)
            for _ in range(args.workers):
                worker = [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--worker"]
                worker += ["--master-host", HOST, "--master-port", str(port)]
                procs.append(
                    subprocess.Popen(worker, cwd=ROOT, env=env, preexec_fn=child_setup(None))
                )
        else:
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, preexec_fn=child_setup(None)))
        status = procs[0].wait(timeout=args.timeout)
        for p in procs[1:]:
            p.wait(timeout=30)
        return status
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def totals(prefix: str) -> dict[str, dict[str, int]]:
    """Requests and failures per `type name`, and `Aggregated`, from Locust's final stats
    (`--json-file PREFIX`: written after the users' on_stop, where the CSV's last write
    may come before the logouts)."""
    with open(f"{prefix}.json") as f:
        entries = json.load(f)
    out: dict[str, dict[str, int]] = {}
    for e in entries:
        out[f"{e['method']} {e['name']}".strip()] = {
            "requests": e["num_requests"],
            "failures": e["num_failures"],
        }
    out["Aggregated"] = {
        "requests": sum(e["num_requests"] for e in entries),
        "failures": sum(e["num_failures"] for e in entries),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m scenarios.load.run", description=__doc__)
    p.add_argument("--users", type=int, default=4, help="mobile agents (default 4)")
    p.add_argument("--spawn-rate", type=float, default=2.0)
    p.add_argument("--run-time", default="30s")
    p.add_argument("--workers", type=int, default=0, help="distributed: a master and W workers")
    p.add_argument("--calls-per-minute", type=float, default=30.0)
    p.add_argument(
        "--shift-seconds", type=float, default=0.0, help="each agent's shift (0: the run's)"
    )
    p.add_argument("--speed", type=float, default=1.0, help="the simulator's clock speed")
    p.add_argument("--csv", default="", help="Locust's --csv prefix (default: a temp dir)")
    p.add_argument("--headless", action="store_true", help="always headless (accepted)")
    p.add_argument("--timeout", type=float, default=600.0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not 1 <= args.users <= 1000 or args.workers < 0:
        p.error("--users must be 1-1000 and --workers >= 0")
    signal.signal(signal.SIGTERM, lambda _s, _f: sys.exit(128 + signal.SIGTERM))
    with tempfile.TemporaryDirectory(prefix="locust-load-") as tmp:
        roster = Path(tmp) / "roster.toml"
        roster.write_text(roster_toml(args.users * max(1, args.workers)))
        csv_prefix = args.csv or str(Path(tmp) / "locust")
        sim_cmd = [sys.executable, "-m", "mobagent", "sim", "--host", HOST, "--rest-port", "0"]
        sim_cmd += ["--xmpp-port", "0", "--json", "--config", str(roster)]
        sim_cmd += ["--speed", str(args.speed)]
        try:
            with running(sim_cmd, name="simulator", cpus=None, start_timeout=60) as (_, info):
                sim = info["sides"]["A"]["rest"].removesuffix("/finesse/api")
                conn_cmd = connector_command(sim, host=HOST)
                with running(conn_cmd, name="connector", cpus=None, stop_timeout=30) as (_, c):
                    connector = c["api"].removesuffix("/api/v1")
                    env = {**os.environ, "LOAD_SIM_URL": sim}
                    env["LOAD_AGENTS_PER_PROCESS"] = str(args.users)
                    status = run_locust(args, connector, env, csv_prefix)
            stats = totals(csv_prefix)
        except (BenchError, OSError, subprocess.TimeoutExpired) as exc:
            print(f"load: {exc}", file=sys.stderr)
            return 1
    agg = stats.get("Aggregated", {"requests": 0, "failures": 0})
    ok = status == 0 and agg["requests"] > 0 and agg["failures"] == 0
    print(
        f"load: {'PASS' if ok else 'FAIL'}: {agg['requests']} requests, "
        f"{agg['failures']} failures, locust exit {status}",
        flush=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
