"""A real `redis-server` on a free loopback port, for tests and benchmarks: no persistence,
stopped with the block (or the test) that started it, restartable on the same port.

`redis-server` comes from the system's packages (`tools/system-deps.sh` installs it).
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import time
from collections.abc import Iterator

from scenarios.bench.procs import child_setup
from scenarios.stack.processes import free_port

READY = b"Ready to accept connections"


class RedisServer:
    def __init__(self, port: int = 0, *, data_dir: str = "", start_timeout: float = 10.0) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir  # "": nothing persisted, a restart starts empty
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start it and wait for its "ready" line (an event, not a sleep)."""
        persist = (
            ["--appendonly", "yes", "--appendfsync", "always", "--dir", self.data_dir]
            if self.data_dir
            else ["--appendonly", "no"]
        )
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *persist,
                "--loglevel",
                "notice",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # Sent SIGTERM should this process die first (a test run killed before its
            # fixtures' teardown): no redis-server left behind.
            preexec_fn=child_setup(None),
        )
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + self.start_timeout
        seen = b""
        while READY not in seen:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(remaining, 0))
            if not ready:
                self.stop()
                raise RuntimeError(f"redis-server did not start: {seen[-500:]!r}")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise RuntimeError(f"redis-server exited: {seen[-500:]!r}")
            seen += chunk
        # From here its output is not read: it logs little, and to /dev/null would do.
        self.proc.stdout.close()
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None and not proc.stdout.closed:
            proc.stdout.close()


@contextlib.contextmanager
def redis_server(data_dir: str = "") -> Iterator[RedisServer]:
    server = RedisServer(data_dir=data_dir).start()
    try:
        yield server
    finally:
        server.stop()
