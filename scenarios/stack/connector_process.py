"""`mobagent connector` as a real process on a fixed loopback port, for the tests that kill,
pause and restart it (a crash is not something one can do to an object in this process).

It runs as the harness runs it (`scenarios.bench.procs.connector_command`), prints its
listening line as JSON (read as the "started" event), is sent SIGTERM should this process
die first, and is killed by `stop()` if it does not stop on SIGINT in time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from scenarios.bench.procs import ROOT, child_setup, connector_command, interrupt, read_line
from scenarios.stack.processes import free_port


class ConnectorProcess:
    def __init__(
        self,
        finesse: str,
        *,
        port: int = 0,
        args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        head: list[str] | None = None,
    ) -> None:
        self.head = head  # a wrapper of `mobagent connector` (e.g. under cProfile)
        self.finesse = finesse
        self.port = port or free_port()
        self.args = list(args)
        self.env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.root}/api/v1"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> ConnectorProcess:
        cmd = [
            *connector_command(self.finesse, head=self.head),
            "--listen",
            f"127.0.0.1:{self.port}",
            *self.args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**os.environ, **self.env},
            preexec_fn=child_setup(None),
        )
        try:
            self.info = json.loads(read_line(self.proc, timeout, "connector"))
        except Exception as exc:
            self.kill()
            raise RuntimeError(f"{exc}; connector stderr:\n{self.stderr()}") from exc
        return self

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-4000:].decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed, nothing closed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self, timeout: float = 15.0) -> None:
        proc = self.proc
        if proc is None:
            return
        interrupt(proc, timeout)
        if proc.stdout is not None:
            proc.stdout.close()

    def close(self) -> None:
        self.stop()
        self._stderr.close()
