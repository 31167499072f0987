"""Which Finesse node to talk to: availability and failover (docs/finesse.md, Failover).

Finesse runs as a primary/secondary pair (docs/finesse.md, Failover). A node counts as available
when all three hold, checked in this order:

1. SystemInfo `status` is IN_SERVICE (and its REST API answers);
2. the XMPP connection to it is up;
3. the 'finesse' XMPP user's presence is AVAILABLE.

`Hosts` is a passive state machine over what the connector observes: the REST client
reports connection failures and answers; everything else (the notification sessions'
connection, the 'finesse' user's presence, SystemInfo from a poll or a notification)
reaches it through the one `FinesseMonitor` (monitor.py), which also runs the polls that
`needs_choice()` asks for. Nothing here does I/O or awaits.

The recovery rules of the table in docs/finesse.md, Failover, and where each lives:

- Notification service down or network loss, noticed as the XMPP connection dropping (or
  REST failing to connect): poll SystemInfo of this node and the alternate until one is
  IN_SERVICE, then reconnect XMPP there. `report_notifications` / `report_rest_failure`
  make `needs_choice()` say so; `poll_order()` and `accept()` are the poll's rules.
- Tomcat or the Finesse webapp down, noticed as the 'finesse' user's presence going
  UNAVAILABLE: wait for AVAILABLE, then for SystemInfo IN_SERVICE; otherwise fail over.
  `report_finesse_presence` and `report_system_info` track it; `needs_choice()` asks for
  the failover once `presence_grace` has passed; `poll_order()` skips a node whose
  'finesse' user is UNAVAILABLE.
- Finesse lost CTI, noticed as SystemInfo `status=OUT_OF_SERVICE`: keep XMPP up and wait
  for IN_SERVICE. `report_system_info` only records it; it never makes `needs_choice()`
  ask for a failover.

How long to wait for the 'finesse' user before failing over is not given by Cisco's
documents (UNCONFIRMED): `presence_grace`, 30 s by default.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from connector.finesse.models import SystemInfo

__all__ = ["IN_SERVICE", "OUT_OF_SERVICE", "FinessePresence", "Hosts", "Node", "normalize_base"]

log = logging.getLogger("connector.finesse.failover")

IN_SERVICE = "IN_SERVICE"
OUT_OF_SERVICE = "OUT_OF_SERVICE"
API_SUFFIX = "/finesse/api"

SwitchListener = Callable[[str, str], None]


def normalize_base(url: str) -> str:
    """`https://fin1.example.com:8445` from that, with a trailing `/` or `/finesse/api`.

    Raises ValueError for a URL without an http(s) scheme or a host, or one that carries
    credentials (they belong in `Credentials`, never in a URL that may be logged).
    """
    base = url.strip().rstrip("/")
    if base.endswith(API_SUFFIX):
        base = base[: -len(API_SUFFIX)].rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = repr(base) if "@" not in base else "(a URL with credentials)"
        raise ValueError(f"not a Finesse base URL (http[s]://host[:port]): {shown}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("a Finesse base URL must not carry credentials")
    if parts.query or parts.fragment:
        raise ValueError("a Finesse base URL has no query or fragment")
    return base


class FinessePresence(StrEnum):
    """What is known of the 'finesse' XMPP user on a node (docs/finesse.md, The 'finesse' user)."""

    UNKNOWN = "UNKNOWN"  # not reported (yet): counts as available until reported otherwise
    AVAILABLE = "AVAILABLE"
    UNAVAILABLE = "UNAVAILABLE"  # the webapp or Tomcat is down
    AWAITING_IN_SERVICE = "AWAITING_IN_SERVICE"  # AVAILABLE again, waiting for IN_SERVICE


@dataclass
class Node:
    """One Finesse node as the connector sees it. Everything but `base_url` is observed."""

    base_url: str
    status: str = ""  # SystemInfo status last seen: IN_SERVICE | OUT_OF_SERVICE | "" unknown
    notifications_up: bool | None = None  # the notification connection; None: no report yet
    finesse: FinessePresence = FinessePresence.UNKNOWN
    finesse_down_since: float | None = None  # clock() when 'finesse' went UNAVAILABLE
    rest_down: bool = False  # the last REST request could not connect or timed out
    # From SystemInfo (the node entry naming this node; docs/finesse.md: SystemInfo, Sign-in and
    # presence):
    xmpp_domain: str = ""
    xmpp_pubsub_domain: str = ""
    xmpp_host: str = ""
    xmpp_port: int = 0
    xmpp_secure_port: int = 0
    system_info: SystemInfo | None = field(default=None, repr=False)

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.base_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def address(self) -> str:
        """`host:port`, for messages and logs."""
        return f"{self.host}:{self.port}"


def _port(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


class Hosts:
    """The primary and optional secondary Finesse node, and the one in use (`active`).

    `clock` (seconds, monotonic) is injectable so the presence grace can be tested without
    waiting.
    """

    def __init__(
        self,
        primary: str,
        secondary: str | None = None,
        *,
        presence_grace: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        first = Node(normalize_base(primary))
        self._nodes: dict[str, Node] = {first.base_url: first}
        if secondary:
            second = Node(normalize_base(secondary))
            if second.base_url == first.base_url:
                raise ValueError("primary and secondary Finesse are the same URL")
            self._nodes[second.base_url] = second
        self._active = first.base_url
        self.presence_grace = presence_grace
        self._clock = clock
        self._listeners: list[SwitchListener] = []
        self.switches = 0

    # -- what is known ------------------------------------------------------------------------

    @property
    def active(self) -> str:
        """The base URL in use (no `/finesse/api`)."""
        return self._active

    @property
    def alternate(self) -> str | None:
        """The other node's base URL, or None with a single node."""
        return next((b for b in self._nodes if b != self._active), None)

    @property
    def nodes(self) -> tuple[Node, ...]:
        """Primary first."""
        return tuple(self._nodes.values())

    def node(self, base: str) -> Node | None:
        """The node of a base URL (any accepted spelling), or None if it is not one of ours."""
        found = self._nodes.get(base)
        if found is None:
            try:
                found = self._nodes.get(normalize_base(base))
            except ValueError:
                return None
        return found

    def unavailable_reason(self, base: str) -> str | None:
        """Why a node is not available, checking the three conditions of docs/finesse.md, Failover
        in order; None when it is available. Unknown XMPP or presence (not reported yet)
        does not make a node unavailable; an unknown SystemInfo status does."""
        node = self._known(base)
        # 1. SystemInfo IN_SERVICE (a node whose REST API cannot be reached cannot be).
        if node.rest_down:
            return f"Finesse at {node.address} does not answer"
        if node.status != IN_SERVICE:
            return f"Finesse at {node.address} is {node.status or 'not yet known (no SystemInfo)'}"
        # 2. The notification (XMPP) connection.
        if node.notifications_up is False:
            return f"notification connection to {node.address} is down"
        # 3. The 'finesse' user's presence.
        if node.finesse is FinessePresence.UNAVAILABLE:
            return f"the 'finesse' user of {node.address} is UNAVAILABLE"
        if node.finesse is FinessePresence.AWAITING_IN_SERVICE:
            return f"Finesse at {node.address} is back, waiting for IN_SERVICE"
        return None

    def available(self, base: str) -> bool:
        return self.unavailable_reason(base) is None

    def needs_choice(self) -> str | None:
        """Why a poll (`FinesseMonitor.choose()`) should run now, or None. The monitor
        checks this after reports and on a timer for the presence grace.

        - 'finesse' UNAVAILABLE (or back but not yet IN_SERVICE) on the active node: None
          while waiting for it (7.2 row 2), even if REST fails meanwhile (the webapp is
          down, so it does); once `presence_grace` has passed, "otherwise fail over".
        - REST cannot connect or XMPP dropped on the active node: 7.2 row 1, poll SystemInfo
          of this node and the alternate.
        - SystemInfo OUT_OF_SERVICE alone: never (7.2 row 3: keep XMPP up and wait).
        """
        node = self._nodes[self._active]
        if self._finesse_down(node):
            waited = self._clock() - (node.finesse_down_since or 0.0)
            if waited < self.presence_grace:
                return None
            return f"Finesse at {node.address} not back after {waited:.0f} s"
        if node.rest_down:
            return f"REST connection to {node.address} failed"
        if node.notifications_up is False:
            return f"notification connection to {node.address} dropped"
        return None

    @staticmethod
    def _finesse_down(node: Node) -> bool:
        return node.finesse_down_since is not None and node.finesse in (
            FinessePresence.UNAVAILABLE,
            FinessePresence.AWAITING_IN_SERVICE,
        )

    def _waiting_for_finesse(self, node: Node) -> bool:
        """Within the grace of 7.2 row 2: the node's 'finesse' user went UNAVAILABLE less
        than `presence_grace` ago and the node has not fully recovered."""
        if not self._finesse_down(node):
            return False
        return self._clock() - (node.finesse_down_since or 0.0) < self.presence_grace

    # -- reports (pure) -----------------------------------------------------------------------

    def _known(self, base: str) -> Node:
        node = self.node(base)
        if node is None:
            raise KeyError(f"not a configured Finesse node: {base!r}")
        return node

    def report_rest_failure(self, base: str) -> None:
        """A REST request to `base` could not connect or timed out. Remembered until the
        node answers again; on the active node `needs_choice()` then asks for a poll. It
        never switches by itself: one lost connection is not a dead node, the poll
        confirms by polling the active node first."""
        node = self.node(base)
        if node is not None:
            node.rest_down = True

    def report_rest_success(self, base: str) -> None:
        """`base` answered a REST request (any HTTP status: even a 503 proves it is up)."""
        node = self.node(base)
        if node is not None:
            node.rest_down = False

    def report_notifications(self, base: str, connected: bool) -> None:
        """The notification connection (XMPP) to `base` came up or dropped.

        Either way what was known of the 'finesse' user is stale: a new session learns its
        presence afresh, a dropped one sees nothing. On the active node a drop makes
        `needs_choice()` ask for the 7.2 row 1 poll.
        """
        node = self.node(base)
        if node is None:
            return
        node.notifications_up = connected
        node.finesse = FinessePresence.UNKNOWN
        node.finesse_down_since = None

    def report_finesse_presence(self, base: str, available: bool) -> None:
        """The 'finesse' user's presence seen on `base`'s XMPP session (7.2 row 2).

        UNAVAILABLE: the webapp is down; wait (up to `presence_grace`). AVAILABLE after
        UNAVAILABLE: not yet recovered, a SystemInfo IN_SERVICE must follow.
        """
        node = self.node(base)
        if node is None:
            return
        if not available:
            if node.finesse_down_since is None:
                node.finesse_down_since = self._clock()
            node.finesse = FinessePresence.UNAVAILABLE
        elif node.finesse in (FinessePresence.UNAVAILABLE, FinessePresence.AWAITING_IN_SERVICE):
            node.finesse = FinessePresence.AWAITING_IN_SERVICE
        else:
            node.finesse = FinessePresence.AVAILABLE

    def report_system_info(self, base: str, info: SystemInfo) -> None:
        """SystemInfo of `base`, from a REST GET or a SystemInfo notification.

        IN_SERVICE after the 'finesse' user came back completes the 7.2 row 2 recovery.
        OUT_OF_SERVICE (CTI lost, row 3) is only recorded: no failover is asked for.
        """
        node = self.node(base)
        if node is None:
            return
        node.system_info = info
        node.status = info.status.strip().upper()
        if node.status == IN_SERVICE and node.finesse is FinessePresence.AWAITING_IN_SERVICE:
            node.finesse = FinessePresence.AVAILABLE
            node.finesse_down_since = None
        node.xmpp_domain = info.xmpp_domain or node.xmpp_domain
        node.xmpp_pubsub_domain = info.xmpp_pubsub_domain or node.xmpp_pubsub_domain
        entry = self._entry_for(node, info)
        if entry is not None:
            node.xmpp_host = entry.host
            node.xmpp_port = _port(entry.xmpp_port)
            node.xmpp_secure_port = _port(entry.xmpp_secure_port)

    @staticmethod
    def _entry_for(node: Node, info: SystemInfo):
        """The primaryNode/secondaryNode entry describing `node`: same host and HTTPS port,
        else same host. None when neither matches (e.g. configured by IP, named by FQDN)."""
        entries = [e for e in (info.primary_node, info.secondary_node) if e is not None]
        host = node.host.lower()
        for entry in entries:
            if entry.host.lower() == host and _port(entry.https_port) == node.port:
                return entry
        same_host = [e for e in entries if e.host.lower() == host]
        return same_host[0] if len(same_host) == 1 else None

    # -- switching ----------------------------------------------------------------------------

    def add_switch_listener(self, listener: SwitchListener) -> Callable[[], None]:
        """Call `listener(old, new)` on every switch; returns a function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    def switch(self, base: str) -> None:
        """Make `base` active and tell the listeners (no-op if it already is)."""
        new = self._known(base).base_url
        old = self._active
        if new == old:
            return
        self._active = new
        self.switches += 1
        log.warning("Finesse failover: %s -> %s", old, new)
        for listener in list(self._listeners):
            try:
                listener(old, new)
            except Exception:
                log.exception("Finesse switch listener failed")

    # -- the poll's rules (the monitor does the polling) ---------------------------------------

    def poll_order(self) -> tuple[list[Node], list[str]]:
        """Which nodes to poll for SystemInfo now, in order (the active one first), and why
        the others are not polled. While the active node's 'finesse' user is down and
        `presence_grace` has not passed, the alternate is not tried (7.2 row 2: wait for it
        first); a node whose 'finesse' user is UNAVAILABLE is not polled (its webapp is
        down, so its REST API cannot answer either)."""
        active = self._nodes[self._active]
        waiting = self._waiting_for_finesse(active)
        nodes = [active]
        alternate = self.alternate
        if alternate is not None:
            nodes.append(self._nodes[alternate])
        order: list[Node] = []
        skipped: list[str] = []
        for node in nodes:
            if node is not active and waiting:
                skipped.append(f"{node.address}: not tried while waiting for {active.address}")
                break
            if node.finesse is FinessePresence.UNAVAILABLE:
                skipped.append(f"{node.address}: 'finesse' UNAVAILABLE")
                continue
            order.append(node)
        return order, skipped

    def accept(self, node: Node) -> bool:
        """After a poll of `node` was reported: make it active if it may serve (IN_SERVICE,
        'finesse' not UNAVAILABLE). True when it is now the active node."""
        if node.status == IN_SERVICE and node.finesse is not FinessePresence.UNAVAILABLE:
            self.switch(node.base_url)
            return True
        return False
