"""The demo's summary and report: JSON for tools, one self-contained HTML page for people."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse

    from scenarios.demo.run import Sample

STATE_COLOURS = {
    "READY": "#2e9e4f",
    "RESERVED": "#e0b020",
    "TALKING": "#2f6fd0",
    "HOLD": "#8a5cd0",
    "WORK_READY": "#46b3c9",
    "WORK": "#7fa7b3",
    "NOT_READY": "#d05050",
    "LOGOUT": "#aaaaaa",
}


def summarise(
    args: argparse.Namespace,
    samples: list[Sample],
    agents: dict[str, Any],
    swarm_status: int,
    live: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run in figures. `live`: the live-vs-model comparison's own counters, taken after
    the last sample: the summary then says what its table says (calls go on arriving
    between the two)."""
    last = samples[-1] if samples else None
    p99s = [s.latency_p99_ms for s in samples if s.latency_p99_ms is not None]
    if live is not None:
        calls = {
            "offered": live["offered"],
            "answered": live["answered"],
            "abandoned": live["abandoned"],
            "serviceLevel": live["service_level"],
            "asa": live["asa"],
        }
    else:
        calls = {
            "offered": last.offered if last else 0,
            "answered": last.answered if last else 0,
            "abandoned": last.abandoned if last else 0,
            "serviceLevel": last.service_level if last else None,
            "asa": last.asa if last else None,
        }
    return {
        "duration": args.duration,
        "profile": args.profile,
        "speed": args.speed,
        "agents": args.agents,
        "calls": calls,
        "latencyMs": {
            "p50": last.latency_p50_ms if last else None,
            "p99": last.latency_p99_ms if last else None,
            "worstP99": max(p99s) if p99s else None,
        },
        "eventsOut": last.events_out if last else 0,
        "swarm": {
            "exitStatus": swarm_status,
            "ok": agents.get("ok"),
            "unexpected": agents.get("unexpected"),
            "calls": agents.get("calls"),
            "agents": agents.get("agents"),
        },
    }


def text(summary: dict[str, Any]) -> str:
    c, lat, sw = summary["calls"], summary["latencyMs"], summary["swarm"]
    sl = "-" if c["serviceLevel"] is None else f"{100 * c['serviceLevel']:.0f}%"
    p50 = "-" if lat["p50"] is None else f"{lat['p50']:.1f} ms"
    p99 = "-" if lat["p99"] is None else f"{lat['p99']:.1f} ms"
    lines = [
        f"Demo done: {summary['duration']:.0f} s, {summary['agents']} agents, "
        f"traffic {summary['profile']!r} at x{summary['speed']:g}",
        f"  calls offered {c['offered']}, answered {c['answered']}, abandoned "
        f"{c['abandoned']}, service level {sl}",
        f"  Finesse -> app latency p50 {p50}, p99 {p99}; {summary['eventsOut']} events",
        f"  agents: {'all signed out cleanly' if sw['exitStatus'] == 0 else 'problems'}"
        f" (unexpected errors: {sw['unexpected'] if sw['unexpected'] is not None else '?'})",
    ]
    return "\n".join(lines)


def _polyline(points: list[tuple[float, float]], w: int, h: int, x_max: float, y_max: float):
    if not points or x_max <= 0 or y_max <= 0:
        return ""
    return " ".join(
        f"{20 + x / x_max * (w - 30):.1f},{h - 20 - y / y_max * (h - 30):.1f}" for x, y in points
    )


def _chart(title: str, series: dict[str, list[tuple[float, float]]], colours: dict[str, str]):
    w, h = 640, 220
    x_max = max((p[0] for pts in series.values() for p in pts), default=0)
    y_max = max((p[1] for pts in series.values() for p in pts), default=0) or 1
    lines = [
        f'<polyline fill="none" stroke="{colours.get(name, "#444")}" stroke-width="2" '
        f'points="{_polyline(pts, w, h, x_max, y_max)}"><title>{html.escape(name)}</title>'
        "</polyline>"
        for name, pts in series.items()
        if pts
    ]
    legend = " ".join(
        f'<span style="color:{colours.get(n, "#444")}">&#9632; {html.escape(n)}</span>'
        for n in series
    )
    return (
        f"<h2>{html.escape(title)}</h2><div>{legend}</div>"
        f'<svg width="{w}" height="{h}" style="border:1px solid #ddd;background:#fff">'
        f'<text x="22" y="14" font-size="11" fill="#666">max {y_max:g}</text>'
        f'<text x="{w - 60}" y="{h - 5}" font-size="11" fill="#666">{x_max:.0f} s</text>'
        + "".join(lines)
        + "</svg>"
    )


def page(summary: dict[str, Any], samples: list[Sample]) -> str:
    calls = {
        key: [(s.t, getattr(s, key)) for s in samples]
        for key in ("offered", "answered", "abandoned", "in_queue")
    }
    states = sorted({k for s in samples for k in s.agents if k != "LOGOUT"})
    agents = {k: [(s.t, s.agents.get(k, 0)) for s in samples] for k in states}
    latency = {
        "p50 ms": [(s.t, s.latency_p50_ms) for s in samples if s.latency_p50_ms is not None],
        "p99 ms": [(s.t, s.latency_p99_ms) for s in samples if s.latency_p99_ms is not None],
    }
    colours = {
        "offered": "#444",
        "answered": "#2e9e4f",
        "abandoned": "#d05050",
        "in_queue": "#e0b020",
        "p50 ms": "#2f6fd0",
        "p99 ms": "#d05050",
        **STATE_COLOURS,
    }
    return (
        "<!doctype html><meta charset='utf-8'><title>mobagent demo</title>"
        "<body style='font-family:sans-serif;max-width:760px;margin:2em auto;color:#222'>"
        "<h1>mobagent demo</h1>"
        f"<pre style='background:#f5f5f5;padding:1em'>{html.escape(text(summary))}</pre>"
        + _comparison(summary)
        + _chart("Calls", calls, colours)
        + _chart("Agents by state", agents, colours)
        + _chart("Finesse notification to app (connector latency)", latency, colours)
        + "</body>"
    )


def _comparison(summary: dict[str, Any]) -> str:
    comparison = summary.get("liveVsModel")
    if not comparison:
        return ""
    return (
        "<h2>Live traffic beside the offline model</h2>"
        f"<pre style='background:#f5f5f5;padding:1em'>{html.escape(comparison['text'])}</pre>"
    )


def write(folder: Path, summary: dict[str, Any], samples: list[Sample]) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / "demo.json", "html": folder / "demo.html"}
    paths["json"].write_text(
        json.dumps({"summary": summary, "samples": [asdict(s) for s in samples]}, indent=2)
    )
    paths["html"].write_text(page(summary, samples))
    return paths
