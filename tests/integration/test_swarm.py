"""A swarm of simulated agents works a (sped-up) shift against the real connector and
simulator: in-process, and as `mobagent agents` processes.

Time: the simulator's clock runs SPEED times faster and the personas' time scale is
1/SPEED, so a 4 s run is two minutes of shift (and model) time: calls, holds, consults,
wrap-up and breaks all happen, and the simulator's timers (ring-no-answer, wrap-up) keep
their proportion to the agents' behaviour.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from mobile_sim.personas import BreakKind, Persona, Span
from mobile_sim.sim_control import SimControl
from mobile_sim.swarm import Swarm, SwarmConfig
from scenarios.bench.procs import connector_command
from scenarios.stack.connector_lab import ConnectorLab
from scenarios.stack.processes import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SPEED = 30.0
AGENTS = ("1001", "1002", "1003")

# Everything, often: short calls, holds, consults/transfers/conferences, mis-taps, a
# backgrounded app, customers hanging up, a break within the run.
BUSY = Persona(
    name="busy-test",
    description="does everything often, quickly",
    answer_delay=Span(1, 2, 3),
    talk_time=Span(8, 15, 30),
    hold_probability=0.5,
    hold_time=Span(2, 4, 8),
    wrap_up_time=Span(2, 4, 8),
    wrap_up_reasons=(("Resolved", 1.0), ("Escalated", 1.0)),
    ready_delay=Span(1, 2, 4),
    break_interval=Span(30, 50, 80),
    breaks=(BreakKind("Break", 1.0, Span(5, 8, 15)), BreakKind("Lunch", 0.3, Span(5, 10, 20))),
    consult_probability=0.15,
    transfer_probability=0.15,
    conference_probability=0.15,
    blind_transfer_probability=0.1,
    consult_talk=Span(2, 4, 8),
    consult_patience=Span(10, 15, 20),
    mistap_probability=0.5,
    background_probability=0.3,
    customer_hangup_probability=0.3,
)


async def work_a_shift(lab: ConnectorLab, **settings) -> dict:
    sim = SimControl(lab.finesse.url("/sim/v1"))
    try:
        await sim.set_speed(SPEED)
        config = SwarmConfig(
            connector=lab.url("/api/v1"),
            sim=lab.finesse.url("/sim/v1"),
            **{
                "count": len(AGENTS),
                "personas": [BUSY],
                "seed": 7,
                "time_scale": 1 / SPEED,
                "calls_per_minute": 6,  # a shift-minute: 2 s here
                **settings,
            },
        )
        return await Swarm(config).run()
    finally:
        await sim.close()


async def assert_everyone_left(lab: ConnectorLab, summary: dict) -> None:
    unexpected = {"errors": summary["errors"], "races": summary["totals"]["races"]}
    assert summary["unexpected"] == 0, unexpected
    assert summary["ok"] is True
    assert summary["agents"]["loggedOut"] == len(AGENTS)
    for agent_id in AGENTS:  # what Finesse holds, not only what the swarm says
        assert (await lab.finesse.agent(agent_id).get_user()).state == "LOGOUT"
    assert (await lab.api("GET", "/healthz")).body["sessions"] == 0
    _, body = await lab.sim("GET", "/queues")
    assert all(q["callsInQueue"] == 0 for q in body["queues"])


async def test_a_small_swarm_works_a_shift_and_everyone_logs_out():
    async with ConnectorLab() as lab:
        summary = await work_a_shift(lab, duration=4.0)
        await assert_everyone_left(lab, summary)
    totals = summary["totals"]
    assert summary["calls"]["offered"] > 0
    assert summary["calls"]["answered"] > 0
    assert totals["wrapUps"] > 0
    assert totals["holds"] + totals["mistaps"] > 0
    # A mis-tap is refused with 409 action_not_allowed: expected, never an error.
    assert totals["expectedRefusals"].get("action_not_allowed", 0) <= totals["mistaps"]
    assert totals["resumes"] <= totals["backgrounded"]  # every resume follows a drop
    assert summary["run"]["shiftSeconds"] >= 100
    assert [a["agentId"] for a in summary["perAgent"]] == list(AGENTS)


async def test_apps_left_in_the_background_are_woken_by_push():
    """`--push`: the swarm runs the push service; apps left in the background (WebSocket
    closed) come back when a call's push arrives, and the shift goes on as usual."""
    port = free_port()
    leaves_it = dataclasses.replace(
        BUSY, background_probability=0.9, left_in_background_probability=1.0
    )
    async with ConnectorLab(push_allow=(f"http://127.0.0.1:{port}",)) as lab:
        # Fewer calls: the apps are left in the background only while the agent is idle.
        summary = await work_a_shift(
            lab,
            duration=6.0,
            personas=[leaves_it],
            calls_per_minute=3,
            push=True,
            push_port=port,
        )
        await assert_everyone_left(lab, summary)
        assert await lab.connector.push.subscriptions.count() == 0
    totals = summary["totals"]
    assert totals["leftForPush"] > 0 and totals["pushWakes"] > 0, (summary["push"], totals)
    assert summary["push"]["counts"]["decrypted"] >= totals["pushWakes"]
    assert summary["calls"]["answered"] > 0


async def test_nailed_connection_and_desk_agents_work_beside_call_by_call():
    async with ConnectorLab() as lab:
        summary = await work_a_shift(lab, duration=3.0, mode="MIXED")
        await assert_everyone_left(lab, summary)
    assert summary["agents"]["modes"] == {"CALL_BY_CALL": 1, "NAILED_CONNECTION": 1, "DESK": 1}
    assert summary["calls"]["answered"] > 0


# -- the command line --------------------------------------------------------------------------


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mobagent", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a kill takes anything it started along
    )


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGINT, as a user's Ctrl-C; SIGKILL if it does not end. Returns its stderr."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
    return err


def test_mobagent_agents_prints_a_json_summary_and_exits_0(tmp_path: Path):
    sim = start("sim", "--rest-port", "0", "--xmpp-port", "0", "--speed", "20", "--json")
    connector = None
    try:
        info = json.loads(sim.stdout.readline())
        finesse = info["sides"]["A"]["rest"].removesuffix("/finesse/api")
        # Its VAPID key pair in the test's directory, not the user's state directory.
        connector = start(*connector_command(finesse, head=["connector"], state_dir=str(tmp_path)))
        api = json.loads(connector.stdout.readline())["api"]
        agents = subprocess.run(
            [
                sys.executable,
                "-m",
                "mobagent",
                "agents",
                "--connector",
                api,
                "--sim",
                info["control"],
                "--count",
                "2",
                "--duration",
                "5",
                "--time-scale",
                "0.05",
                "--calls-per-minute",
                "20",
                "--seed",
                "3",
                "--json",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert agents.returncode == 0, agents.stderr[-2000:]
        summary = json.loads(agents.stdout)
        assert summary["ok"] is True and summary["unexpected"] == 0, summary["errors"]
        assert summary["agents"]["count"] == 2 and summary["agents"]["loggedOut"] == 2
        assert summary["agents"]["personas"] == {"steady": 2}
        assert summary["calls"]["offered"] > 0
        assert summary["run"]["seed"] == 3 and summary["run"]["timeScale"] == 0.05
        assert 5 <= summary["run"]["wallSeconds"] < 30
        assert "agents:" in agents.stderr  # progress went to stderr, stdout is the JSON
        health = api.removesuffix("/api/v1") + "/healthz"
        with urllib.request.urlopen(health, timeout=5) as res:
            assert json.load(res)["sessions"] == 0
    finally:
        errors = [stop(p) for p in (connector, sim) if p is not None]
    assert connector is not None and connector.returncode == 0, errors
    assert sim.returncode == 0, errors


def test_bad_arguments_exit_2():
    proc = subprocess.run(
        [sys.executable, "-m", "mobagent", "agents", "--persona", "grumpy"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "unknown persona 'grumpy'" in proc.stderr
