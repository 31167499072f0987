"""The simulated Finesse notification service: listeners, fan-out and fault switches.

`XmppServer` is what the rest of the simulator sees. It owns the listeners (plain 5222-style
with optional STARTTLS, and optionally a direct-TLS 5223-style one), the subscription
registry and the session registry, and it publishes Finesse ``<Update>`` documents with the
exact envelope of docs/finesse.md, Notification envelope. Everything runs on the event loop that
called `start`; call every method from that loop.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any

from .pubsub import PubSub
from .registry import SessionRegistry
from .session import C2SSession
from .stanzas import Notification, random_suffix

log = logging.getLogger("finesse_sim.xmpp")

_BACKLOG = 1024  # a swarm of agents connects at once


@dataclass
class _Listener:
    host: str
    port: int  # the bound port, kept so that a listener comes back on the same one
    ssl: ssl.SSLContext | None  # direct TLS
    server: asyncio.Server | None = None
    sock: socket.socket | None = None  # bound and listening, not yet served by asyncio


class XmppServer:
    def __init__(
        self,
        *,
        domain: str,
        authenticate: Callable[[str, str], bool],
        on_presence: Callable[[str, bool], None],
        auto_nodes: Callable[[str], Iterable[str]],
        may_subscribe: Callable[[str, str], bool],
        tls_context: ssl.SSLContext | None = None,
        allow_plaintext_auth: bool = False,
        max_stanza_bytes: int = 64 * 1024,
        full_jid_to: bool = False,
        auth_timeout: float = 30.0,
        max_send_buffer: int = 16 * 1024 * 1024,
    ) -> None:
        self.domain = domain
        self.pubsub_jid = f"pubsub.{domain}"
        self.finesse_jid = f"finesse@{domain}"
        self.authenticate = authenticate
        self.may_subscribe = may_subscribe
        self.tls_context = tls_context
        # With TLS configured, STARTTLS is required before authentication (Finesse 12.5+
        # refuses plaintext by default) unless the old behaviour is asked for.
        self.starttls_required = tls_context is not None and not allow_plaintext_auth
        self.max_stanza_bytes = max_stanza_bytes
        self.full_jid_to = full_jid_to
        self.auth_timeout = auth_timeout
        # A client that stops reading is dropped once this much is queued for it, rather
        # than letting its backlog grow without bound.
        self.max_send_buffer = max_send_buffer
        self.finesse_up = True
        self.pubsub = PubSub()
        self.registry = SessionRegistry(
            pubsub=self.pubsub, on_presence=on_presence, auto_nodes=auto_nodes
        )
        self._listeners: list[_Listener] = []
        self._refusing = False
        self._generation = 0  # bumped whenever listeners close; stale re-listens give up
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- life cycle ------------------------------------------------------------------------

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, tls_port: int | None = None
    ) -> tuple[int, int | None]:
        """Listen; returns (plain port, direct-TLS port or None). Port 0 picks a free one."""
        if self._listeners:
            raise RuntimeError("already started")
        if tls_port is not None and self.tls_context is None:
            raise ValueError("tls_port needs a tls_context")
        self._listeners.append(_Listener(host, port, None))
        if tls_port is not None:
            self._listeners.append(_Listener(host, tls_port, self.tls_context))
        try:
            for listener in self._listeners:
                self._listen(listener)
                await self._serve(listener, self._generation)
        except BaseException:
            self._unlisten_all()
            self._listeners.clear()
            raise
        if self._refusing:
            self._unlisten_all()
        plain = self._listeners[0].port
        tls = self._listeners[1].port if tls_port is not None else None
        log.info("XMPP %s listening on %s:%s (direct TLS: %s)", self.domain, host, plain, tls)
        return plain, tls

    async def stop(self) -> None:
        """Close the listeners and every session (with a system-shutdown stream error)."""
        self._unlisten_all()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for session in list(self.registry.connections):
            session.close_with_error("system-shutdown")
        alive = list(self.registry.alive)
        if alive:
            _, stuck = await asyncio.wait([s.closed for s in alive], timeout=2.0)
            for session in alive:
                if not session.closed.done():
                    session.abort()
            if stuck:
                await asyncio.wait(stuck, timeout=1.0)
        log.info("XMPP %s stopped", self.domain)

    def _listen(self, listener: _Listener) -> None:
        # Bound synchronously so that set_refusing(False) fails loudly if the port is taken
        # and connections queue in the backlog from this moment on.
        family, *_, address = socket.getaddrinfo(
            listener.host, listener.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.create_server(address, family=family, backlog=_BACKLOG)
        listener.sock = sock
        listener.port = sock.getsockname()[1]

    async def _serve(self, listener: _Listener, generation: int) -> None:
        sock, listener.sock = listener.sock, None
        if sock is None or generation != self._generation:
            return
        factory = functools.partial(C2SSession, self, direct_tls=listener.ssl is not None)
        server = await asyncio.get_running_loop().create_server(
            factory, sock=sock, ssl=listener.ssl, backlog=_BACKLOG
        )
        if generation != self._generation:
            server.close()  # refused again while we were starting
        else:
            listener.server = server

    def _unlisten_all(self) -> None:
        self._generation += 1
        for listener in self._listeners:
            if listener.sock is not None:
                listener.sock.close()
                listener.sock = None
            if listener.server is not None:
                listener.server.close()
                listener.server = None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a background task owned by the server (cancelled by `stop`)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("XMPP background task failed", exc_info=task.exception())

    # --- notifications ---------------------------------------------------------------------

    def publish(self, node: str, update_xml: str) -> int:
        """Send a complete ``<Update>…</Update>`` to every available subscriber of the node.

        Returns how many sessions it was written to. Only sessions with an available
        presence of priority >= 0 receive it (docs/finesse.md, Sign-in and presence); nothing is
        queued for the others (Finesse has no offline storage for events).
        """
        available = self.registry.available
        note: Notification | None = None
        head = node_id = tail = b""
        join = b"".join
        suffix = random_suffix
        sent = 0
        slow: list[C2SSession] = []
        for user in self.pubsub.subscribers(node):
            sessions = available.get(user)
            if not sessions:
                continue
            if note is None:
                note = Notification.build(self.pubsub_jid, node, update_xml)
                head, node_id, tail = note.head, note.node_id, note.tail
            for s in sessions:
                transport = s.transport
                assert transport is not None
                # Inlined Notification.render: this loop is the service's hot path.
                transport.write(join((head, s.to_and_id, node_id, s.bare_id, suffix(), tail)))
                sent += 1
                if s.write_paused and transport.get_write_buffer_size() > self.max_send_buffer:
                    slow.append(s)
        for s in slow:  # not inside the loop: aborting changes the sets being iterated
            log.warning("%r: not reading its notifications, dropping it", s)
            s.abort()
        return sent

    # --- fault switches and state ----------------------------------------------------------

    def drop_all_sessions(self) -> None:
        """Abort every connection now, without a closing handshake (network-loss fault)."""
        sessions = list(self.registry.connections)
        if sessions:
            log.info("XMPP %s: dropping %d connections", self.domain, len(sessions))
        for session in sessions:
            session.abort()

    def set_refusing(self, refusing: bool) -> None:
        """'Side down': close the listeners (connects are refused) and drop every session;
        False listens again on the same ports."""
        if refusing == self._refusing:
            return
        self._refusing = refusing
        if refusing:
            log.info("XMPP %s: refusing connections", self.domain)
            self._unlisten_all()
            self.drop_all_sessions()
            return
        log.info("XMPP %s: accepting connections again", self.domain)
        for listener in self._listeners:
            self._listen(listener)
            self.spawn(self._serve(listener, self._generation))

    def set_finesse_presence(self, available: bool) -> None:
        """Presence of the 'finesse' user (docs/finesse.md, The 'finesse' user), pushed to every
        session that has sent its presence, when it changes."""
        if available == self.finesse_up:
            return
        self.finesse_up = available
        for session in list(self.registry.connections):
            if session.presence_sent:
                session.send_finesse_presence()

    @property
    def session_count(self) -> int:
        """Sessions with a bound resource."""
        return self.registry.bound_count()

    def available_users(self) -> set[str]:
        """User ids with at least one available resource (presence with priority >= 0)."""
        return set(self.registry.available)
