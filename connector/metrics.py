"""Connector metrics in the Prometheus text format, without a client library.

Counters, gauges and one latency histogram are all the connector needs; rendering them is a
few lines, and keeping them as plain attributes keeps the hot path (one increment per event)
cheap.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str) -> list[str]:
        out, running = [], 0
        for bound, count in zip(self.buckets, self.counts, strict=False):
            running += count
            out.append(f'{name}_bucket{{le="{bound}"}} {running}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.n}')
        out.append(f"{name}_sum {self.total}")
        out.append(f"{name}_count {self.n}")
        return out


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labelled(name: str, label: str, counts: Counter[str]) -> list[str]:
    return [f'{name}{{{label}="{_label(k)}"}} {n}' for k, n in sorted(counts.items())]


@dataclass
class Metrics:
    events_in: int = 0  # Finesse notifications received
    notifications_dropped: int = 0  # pubsub events not from the pubsub service: forged
    events_out: int = 0  # mobile events published to agents' streams
    reconnects: int = 0  # notification sessions re-established
    logins: int = 0
    login_failures: Counter[str] = field(default_factory=Counter)  # by reason
    login_throttled: Counter[str] = field(default_factory=Counter)  # by scope: agent, client
    sessions_ended: Counter[str] = field(default_factory=Counter)  # by session.ended reason
    reconcile_repairs: int = 0  # events found missing by the periodic re-read
    websockets_replaced: int = 0  # closed (4002) for a newer one of the same agent
    websockets_aborted: Counter[str] = field(default_factory=Counter)  # reset, by reason
    finesse_errors: Counter[str] = field(default_factory=Counter)  # by ErrorType
    latency: Histogram = field(default_factory=Histogram)  # notification in -> event out

    def render(
        self, *, sessions: int, websockets: int, heap_settled: bool = False, gc_full: int = 0
    ) -> str:
        lines = [
            "# HELP connector_sessions Agent sessions held by the connector.",
            "# TYPE connector_sessions gauge",
            f"connector_sessions {sessions}",
            "# HELP connector_websockets Open event-stream WebSockets.",
            "# TYPE connector_websockets gauge",
            f"connector_websockets {websockets}",
            "# HELP connector_heap_settled 1 while young objects are frozen (sign-ins quiet).",
            "# TYPE connector_heap_settled gauge",
            f"connector_heap_settled {int(heap_settled)}",
            "# HELP connector_gc_full_collections_total Full garbage collections (the long pause).",
            "# TYPE connector_gc_full_collections_total counter",
            f"connector_gc_full_collections_total {gc_full}",
            "# HELP connector_events_in_total Finesse notifications received.",
            "# TYPE connector_events_in_total counter",
            f"connector_events_in_total {self.events_in}",
            "# HELP connector_notifications_dropped_total Notifications dropped: not sent by"
            " the pubsub service.",
            "# TYPE connector_notifications_dropped_total counter",
            f"connector_notifications_dropped_total {self.notifications_dropped}",
            "# HELP connector_events_out_total Mobile events published.",
            "# TYPE connector_events_out_total counter",
            f"connector_events_out_total {self.events_out}",
            "# HELP connector_reconnects_total Notification sessions re-established.",
            "# TYPE connector_reconnects_total counter",
            f"connector_reconnects_total {self.reconnects}",
            "# HELP connector_logins_total Successful app logins.",
            "# TYPE connector_logins_total counter",
            f"connector_logins_total {self.logins}",
            "# HELP connector_login_failures_total Refused app logins, by reason.",
            "# TYPE connector_login_failures_total counter",
            *_labelled("connector_login_failures_total", "reason", self.login_failures),
            "# HELP connector_login_throttled_total Sign-ins refused unasked (429), by scope.",
            "# TYPE connector_login_throttled_total counter",
            *_labelled("connector_login_throttled_total", "scope", self.login_throttled),
            "# HELP connector_sessions_ended_total Agent sessions ended, by reason.",
            "# TYPE connector_sessions_ended_total counter",
            *_labelled("connector_sessions_ended_total", "reason", self.sessions_ended),
            "# HELP connector_reconcile_repairs_total Events found missing by reconciling.",
            "# TYPE connector_reconcile_repairs_total counter",
            f"connector_reconcile_repairs_total {self.reconcile_repairs}",
            "# HELP connector_websockets_replaced_total WebSockets closed for a newer one (4002).",
            "# TYPE connector_websockets_replaced_total counter",
            f"connector_websockets_replaced_total {self.websockets_replaced}",
            "# HELP connector_websockets_aborted_total WebSockets reset (not reading), by reason.",
            "# TYPE connector_websockets_aborted_total counter",
            *_labelled("connector_websockets_aborted_total", "reason", self.websockets_aborted),
            "# HELP connector_finesse_errors_total Finesse errors by ErrorType.",
            "# TYPE connector_finesse_errors_total counter",
        ]
        lines += _labelled("connector_finesse_errors_total", "type", self.finesse_errors)
        lines += [
            "# HELP connector_event_latency_seconds Finesse notification in to mobile event out.",
            "# TYPE connector_event_latency_seconds histogram",
            *self.latency.lines("connector_event_latency_seconds"),
        ]
        return "\n".join(lines) + "\n"
