"""What a phase of the benchmark measured: latencies (percentiles in ms), losses and the
command round trips, from the times the agents recorded."""

from __future__ import annotations

import statistics
from typing import Any

from scenarios.bench.connector.agents import LoadAgent


def percentile_ms(values: list[float], quantile: float) -> float | None:
    """The `quantile` of `values` (seconds) in milliseconds; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(quantile * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 3)


def summary(values: list[float], quantiles: dict[str, float]) -> dict[str, float | None]:
    return {name: percentile_ms(values, quantile) for name, quantile in quantiles.items()}


E2E_Q = {"p50": 0.5, "p95": 0.95, "p99": 0.99, "p999": 0.999}
SHORT_Q = {"p50": 0.5, "p99": 0.99}


Marks = list[tuple[int, int]]  # per agent: flips so far, events so far (see `mark`)


def mark(agents: list[LoadAgent]) -> Marks:
    """Where each agent's lists stand: a phase reports only what follows. An event still
    missing now keeps its place: the next phase's events start after it, so one that comes
    late is never paired with the next phase's flips (see `late`). Events carry no id, so
    one that never comes has its place taken by the next phase's first: the loss then shows
    in that phase (lost minus late, summed over the phases, is still what never came).
    On a connector that loses nothing (it must not), a missing event is a late one."""
    return [(len(agent.acks), max(len(agent.recv), len(agent.acks))) for agent in agents]


def late(agents: list[LoadAgent], since: Marks, until: Marks, received: int) -> int:
    """Of a phase's events (between the marks `since` and `until`), how many have arrived
    by now beyond the `received` its drain counted: late, not lost."""
    arrived = 0
    for agent, (acks_from, recv_from), (acks_to, _) in zip(agents, since, until, strict=True):
        if agent.kind == "direct":
            continue
        end = recv_from + (acks_to - acks_from)
        arrived += max(0, min(len(agent.recv), end) - recv_from)
    return arrived - received


def phase(agents: list[LoadAgent], since: Marks) -> dict[str, Any]:
    """The phase since `mark()`: the k-th flip of an agent is paired with its k-th event;
    a direct watcher's events with its twin app's; a command with the event carrying its
    requestId."""
    e2e: list[float] = []
    direct: list[float] = []
    e2e_put: list[float] = []
    direct_put: list[float] = []
    added: list[float] = []  # app receipt - direct receipt of the same event
    rtt: list[float] = []
    sent = received = direct_expected = direct_received = 0
    early = 0
    start = {id(agent): position for agent, position in zip(agents, since, strict=True)}
    for agent, (acks_from, recv_from) in zip(agents, since, strict=True):
        acks, recv = agent.acks[acks_from:], agent.recv[recv_from:]
        if agent.kind == "direct":
            direct_expected += len(acks)
            direct_received += min(len(acks), len(recv))
            direct += [max(0.0, got - ack) for ack, got in zip(acks, recv, strict=False)]
            direct_put += [
                got - put for put, got in zip(agent.puts[acks_from:], recv, strict=False)
            ]
            if agent.twin is not None:
                twin_recv = agent.twin.recv[start[id(agent.twin)][1] :]
                added += [app - own for app, own in zip(twin_recv, recv, strict=False)]
            continue
        sent += len(acks)
        received += min(len(acks), len(recv))
        if agent.kind == "command":
            continue
        for ack, got in zip(acks, recv, strict=False):
            if got < ack:
                early += 1
            e2e.append(max(0.0, got - ack))
        e2e_put += [got - put for put, got in zip(agent.puts[acks_from:], recv, strict=False)]
    for agent in agents:
        if agent.kind == "command":
            for rid, sent_at in agent.rids.items():
                if rid in agent.rid_recv:
                    rtt.append(agent.rid_recv[rid] - sent_at)
            # A command whose event has not come yet is paired in a later phase.
            agent.rids = {
                rid: sent_at for rid, sent_at in agent.rids.items() if rid not in agent.rid_recv
            }
    return {
        "events_sent": sent,
        "events_received": received,
        "lost": sent - received,
        "e2e_ms": summary(e2e, E2E_Q),
        "e2e_mean_ms": round(statistics.fmean(e2e) * 1000, 3) if e2e else None,
        "direct_ms": summary(direct, SHORT_Q),
        "direct_lost": direct_expected - direct_received,
        "connector_added_ms": summary(added, SHORT_Q),
        "e2e_from_put_ms": summary(e2e_put, E2E_Q),
        "direct_from_put_ms": summary(direct_put, SHORT_Q),
        "command_rtt_ms": summary(rtt, SHORT_Q),
        "events_before_ack": early,
        "samples": {"e2e": len(e2e), "direct": len(direct), "command": len(rtt)},
    }


def cpu_percent(
    before: dict[str, float], after: dict[str, float], wall: float, digits: int = 1
) -> dict[str, float]:
    """Each process's CPU over `wall` seconds, in percent of one core, from two readings of
    its CPU seconds."""
    return {key: round(100 * (after[key] - before[key]) / wall, digits) for key in after}


def cpu_per_event(before: dict[str, float], after: dict[str, float], events: int) -> dict[str, Any]:
    """The connector's CPU per relayed event over a phase (user and system split): CPU
    seconds from /proc over the events the apps received."""
    if not events:
        return {"connector_cpu_us_per_event": None, "connector_cpu_us_per_event_split": None}

    def per_event(key: str) -> float:
        return round(1e6 * (after[key] - before[key]) / events, 1)

    return {
        "connector_cpu_us_per_event": per_event("connector"),
        "connector_cpu_us_per_event_split": {
            "user": per_event("connector_user"),
            "system": per_event("connector_system"),
        },
    }
