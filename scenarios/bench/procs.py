"""Process management shared by the benchmarks: the processes under test, pinned, measured
from /proc, and never left behind.

* `running(cmd, ...)`: start a `mobagent ...` process that prints one JSON line when it
  listens, pinned to some CPUs and sent SIGTERM should the benchmark die first; SIGINT at
  the end (killed if it does not stop in time), killed at once on failure.
* `pinning()`: which CPUs to pin the process under test and the load generator to.
* `/proc` readers: CPU time of a process (`proc_cpu_seconds`), its resident set
  (`proc_rss_kib`), and the busy ticks of every CPU (`core_busy`).
* `connector_command(finesse)`: the connector as the harness runs it.
* `report(name, run, show, failed)`: a benchmark's main: run, print, exit status.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import platform
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from scenarios.bench.yardstick import yardstick_us

ROOT = Path(__file__).resolve().parents[2]
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A failed request, a missing notification, a process that did not start."""


# -- /proc ------------------------------------------------------------------------------------


def proc_cpu_times(pid: int) -> tuple[float, float]:
    """(utime, stime) of a process (all its threads) in seconds, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    # The command name (field 2) may hold spaces: fields after it follow the last ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # fields 14 and 15 of stat(5)


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads)."""
    return sum(proc_cpu_times(pid))


def proc_children(pid: int) -> list[int]:
    """The child processes of `pid` (Linux: the children of its main thread)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        return []


def proc_wait_seconds(pid: int) -> float:
    """Time a process's main thread has spent runnable but waiting for a CPU (the run-queue
    delay of schedstat): the share of a latency tail that is the scheduler's, not ours."""
    with open(f"/proc/{pid}/schedstat", "rb") as f:
        return int(f.read().split()[1]) / 1e9


def proc_rss_kib(pid: int) -> int:
    """The resident set size of a process in KiB: VmRSS from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1])  # "VmRSS:	   12345 kB"
    raise BenchError(f"no VmRSS in /proc/{pid}/status (a zombie?)")


def core_busy() -> dict[int, tuple[int, int]]:
    """Per CPU: (busy ticks, all ticks) from /proc/stat; empty where there is none."""
    out: dict[int, tuple[int, int]] = {}
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/stat").read_text().splitlines():
            name, *ticks = line.split()
            if name.startswith("cpu") and name[3:].isdigit():
                user, nice, system, idle, iowait, irq, softirq, steal = map(int, ticks[:8])
                busy = user + nice + system + irq + softirq + steal
                out[int(name[3:])] = (busy, busy + idle + iowait)
    return out


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor()


# -- pinning ----------------------------------------------------------------------------------


def pinning() -> tuple[set[int], tuple[int, int] | None]:
    """The CPUs this process may use, and (the first, the second) of them to pin to, or
    None with a single CPU (or no affinity API)."""
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return set(), None
    if len(allowed) < 2:
        return allowed, None
    first, second = sorted(allowed)[:2]
    return allowed, (first, second)


_PR_SET_PDEATHSIG = 1


def child_setup(cpus: set[int] | None) -> Callable[[], None]:
    """Runs in a child between fork and exec: pin it to `cpus`, and have it sent SIGTERM
    should this process die first (a killed benchmark must not leave a process behind)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    except (OSError, AttributeError):
        prctl = None
    parent = os.getpid()

    def setup() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os.kill(os.getpid(), signal.SIGTERM)

    return setup


# -- the process under test -------------------------------------------------------------------


def read_line(proc: subprocess.Popen[bytes], timeout: float, name: str = "process") -> bytes:
    """The first line `proc` prints on stdout, within `timeout` seconds."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BenchError(f"the {name} did not report its ports within {timeout:g}s")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise BenchError(f"the {name} exited early (status {proc.wait()})")
            data += chunk
    return data.partition(b"\n")[0]


@contextlib.contextmanager
def running(
    cmd: list[str],
    *,
    name: str,
    cpus: set[int] | None,
    env: Mapping[str, str] | None = None,
    start_timeout: float = 30.0,
    stop_timeout: float = 15.0,
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    """Run `cmd` (from the project root, pinned to `cpus`) until the block ends; yields the
    process and the JSON object of the first line it prints. SIGINT at the end (killed
    after `stop_timeout` seconds), killed at once if the block fails."""
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=None if env is None else dict(env),
            preexec_fn=child_setup(cpus),
        )
        try:
            try:
                info = json.loads(read_line(proc, start_timeout, name))
            except (BenchError, ValueError) as exc:
                stderr.seek(0)
                tail = stderr.read()[-2000:].decode(errors="replace")
                raise BenchError(f"{exc}; {name} stderr:\n{tail}") from exc
            yield proc, info
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            interrupt(proc, stop_timeout)
            assert proc.stdout is not None
            proc.stdout.close()


def interrupt(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGINT (after a SIGCONT: a paused process would not see it), killed if it has not
    stopped within `timeout` seconds."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def machine(cores: tuple[int, int] | None) -> dict[str, Any]:
    """What the benchmark ran on: reported beside every result."""
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "yardstick_us": yardstick_us(),  # this hardware's Python speed: compare runs by it
        "sim_cpu": cores[0] if cores else None,
        "connector_cpu": cores[1] if cores else None,
    }


def table(rows: list[tuple[str, ...]]) -> list[str]:
    """Aligned text rows: the first column left-aligned, the others right-aligned, a rule
    under the header row."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.rjust(w) for c, w in zip(row, widths, strict=True)]
        cells[0] = row[0].ljust(widths[0])
        lines.append("  ".join(cells))
    lines.insert(1, "-" * len(lines[0]))
    return lines


def connector_command(
    finesse: str,
    *,
    head: list[str] | None = None,
    host: str = "127.0.0.1",
    state_dir: str = "",
    push_allow: str = "",
    push_process: bool = False,
) -> list[str]:
    """`mobagent connector` (or `head`, a wrapper of it) for the simulator at `finesse`,
    on a free port of `host`, printing its listening line as JSON. Every simulated phone
    signs in from this one address, so the per-address sign-in limit is off. `state_dir`:
    where it keeps its VAPID key pair (a temporary one of the caller's, not the user's);
    `push_allow`: the simulated push service's origin; `push_process`: pushes sent from a
    child process of the connector's."""
    head = head or [sys.executable, "-m", "mobagent", "connector"]
    command = [*head, "--finesse", finesse, "--listen", f"{host}:0", "--signin-rate", "0"]
    if state_dir:
        command += ["--state-dir", state_dir]
    if push_allow:
        command += ["--push-allow", push_allow]
    if push_process:
        command += ["--push-process"]
    return [*command, "--json"]


def report(
    name: str,
    run: Callable[[], Any],
    show: Callable[[Any], str],
    failed: Callable[[Any], bool],
) -> int:
    """A benchmark's main after parsing: SIGTERM unwinds like Ctrl-C (the processes under
    test are stopped, temp files removed), an error is one line, the exit status says
    whether the run failed."""
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(128 + signal.SIGTERM))
    try:
        result = run()
    except (BenchError, aiohttp.ClientError, OSError) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    print(show(result))
    return 1 if failed(result) else 0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
