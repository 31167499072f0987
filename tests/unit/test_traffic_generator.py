"""Live traffic on the contact-centre model alone: simpy time, no network, no wall clock."""

from __future__ import annotations

import contextlib

import pytest

from connector.finesse.models import ApiErrorException, DialogRequest
from finesse_sim.config import default_config
from finesse_sim.model.contact_center import ContactCenter
from finesse_sim.model.timers import schedule
from finesse_sim.traffic import ProfileError, TrafficGenerator, TrafficProfile, parse_profile
from tests.unit.conftest import World, make_world


def profile(rate: float = 360, handle: float = 60, patience: float | None = 30, **extra):
    queue = {
        "arrivals": {"calls_per_hour": rate},
        "handle_time": {"mean": handle},
        "patience": {"distribution": "exponential", "mean": patience}
        if patience
        else {"distribution": "none"},
        "variables": {"callVariable1": "ACC-####", "user.tier": ["gold", "silver"]},
        **extra,
    }
    return parse_profile({"name": "unit", "seed": 5, "queues": {"8000": queue}})


class Lab:
    """A model, its phone events fed to the generator, and agents that answer after `delay`
    model seconds (or never, with None)."""

    def __init__(self, traffic: TrafficProfile, agents: int = 0, delay: float | None = 2.0):
        self.world: World = make_world()
        self.cc: ContactCenter = self.world.cc
        self.delay = delay
        self.cc.on_phone_event = self._phone
        self.gen = TrafficGenerator(self.cc, traffic)
        self.agent_phones = set()
        for i in range(agents):
            agent_id = f"{1001 + i}"
            self.world.login(agent_id)
            self.world.ready(agent_id)
            self.agent_phones.add(self.cc.agents[agent_id].extension)

    def _phone(self, number: str, event: dict) -> None:
        self.world.phones.append((number, event))
        self.gen.phone_event(number, event)
        if event["event"] == "ring" and number in self.agent_phones and self.delay is not None:
            schedule(self.cc.env, self.delay, lambda: self._answer(number))

    def _answer(self, number: str) -> None:
        with contextlib.suppress(ApiErrorException):  # the customer gave up while it rang
            self.cc.phone_answer(number)

    def run(self, seconds: float) -> None:
        self.cc.env.run(until=self.cc.env.now + seconds)

    def totals(self) -> dict:
        return self.gen.snapshot()["totals"]


def adds_up(t: dict) -> None:
    assert t["offered"] == t["answered"] + t["abandoned"] + t["endedUnanswered"] + t["waiting"]
    assert t["answered"] == t["talking"] + t["customerHangups"] + t["agentHangups"]
    assert t["inQueue"] <= t["waiting"]


def test_nobody_answers_every_customer_abandons_after_their_patience():
    lab = Lab(profile(rate=720, patience=20))
    lab.gen.start()
    lab.run(3600)
    lab.gen.stop()
    lab.run(600)  # the last ones give up
    t = lab.totals()
    adds_up(t)
    expected = lab.gen.profile.queue("8000").expected_calls(0, 3600)  # 720
    assert abs(t["offered"] - expected) < 4 * expected**0.5
    assert t["abandoned"] == t["offered"] and t["answered"] == 0 and t["waiting"] == 0
    for call in lab.gen.history:
        assert call.ended_by == "abandoned"
        assert call.ended_at - call.arrived == pytest.approx(call.patience)
    mean_patience = t["abandonWaitSecondsTotal"] / t["abandoned"]
    assert mean_patience == pytest.approx(20, rel=0.2)
    assert lab.cc.queue_stats()[0]["callsInQueue"] == 0


def test_answered_customers_hang_up_after_their_handle_time():
    lab = Lab(profile(rate=240, handle=40, patience=60), agents=4, delay=3.0)
    lab.gen.start()
    lab.run(1800)
    snapshot = lab.gen.snapshot()
    t = snapshot["totals"]
    adds_up(t)
    assert t["answered"] > 50 and t["customerHangups"] > 40
    for call in lab.gen.history:
        if call.ended_by == "customer":
            assert call.ended_at - call.answered_at == pytest.approx(call.handle_time)
            assert call.wait >= 3.0  # ringing took the agents' 3 s
    assert t["asa"] == pytest.approx(t["waitSecondsTotal"] / t["answered"])
    assert t["answeredWithinSl"] <= t["answered"]
    [queue] = snapshot["queues"]
    assert queue["dn"] == "8000" and queue["offered"] == t["offered"]
    assert queue["callsPerHourNow"] == 240 and queue["aht"] == 40


def test_an_agent_who_hangs_up_first_ends_the_call():
    lab = Lab(profile(rate=60, handle=600, patience=None), agents=1, delay=1.0)
    lab.gen.start()
    lab.run(300)
    [talking] = [c for c in lab.gen.calls() if c.answered_at is not None]
    lab.cc.phone_hangup("5001")  # the agent drops long before the 600 s handle time
    [call] = [c for c in lab.gen.history if c.call_id == talking.call_id]
    assert call.ended_by == "agent"
    t = lab.totals()
    assert t["agentHangups"] == 1 and t["customerHangups"] == 0
    adds_up(t)


def test_the_customer_follows_a_consult_transfer_and_hangs_up_there():
    lab = Lab(profile(rate=30, handle=300, patience=None), agents=1, delay=1.0)
    lab.world.login("1002")  # NOT_READY: reachable by extension for a consult
    lab.gen.start()
    while not any(c.answered_at is not None for c in lab.gen.calls()):
        lab.run(10)
    lab.gen.stop()
    [customer] = list(lab.gen.calls())
    first = lab.cc.agents["1001"]

    def act(agent_id: str, dialog_id: str, action: str, **kw) -> None:
        agent = lab.cc.agents[agent_id]
        req = DialogRequest(requested_action=action, target_media_address=agent.extension, **kw)
        lab.cc.dialog_action(agent, dialog_id, req)

    act("1001", customer.call_id, "CONSULT_CALL", to_address="5002")
    lab.run(0.5)
    lab.cc.phone_answer("5002")
    consult = next(leg.call for leg in first.legs if leg.call.id != customer.call_id)
    act("1001", customer.call_id, "TRANSFER")
    assert customer.ended_at is None  # the customer talks to 1002 now, on the consult call
    lab.run(customer.answered_at + customer.handle_time - lab.cc.env.now + 0.1)
    assert customer.ended_by == "customer"
    assert consult.ended and lab.cc.agents["1002"].live_legs() == []


def test_the_same_seed_repeats_the_same_customers():
    def run() -> list[tuple]:
        lab = Lab(profile(rate=600, handle=30, patience=15), agents=2, delay=2.0)
        lab.gen.start()
        lab.run(1200)
        numbers = [n for n, e in lab.world.phones if e["event"] == "ended"]
        return [
            (c.call_id, c.number, c.arrived, c.patience, c.handle_time, c.ended_by, c.ended_at)
            for c in lab.gen.history
        ] + numbers

    assert run() == run()


def test_call_variables_come_with_each_call():
    lab = Lab(profile(rate=600, patience=None))
    lab.gen.start()
    lab.run(60)
    calls = [lab.cc.calls[c.call_id] for c in lab.gen.calls()]
    assert calls
    for call in calls:
        assert call.variables["callVariable1"].startswith("ACC-")
        assert call.variables["user.tier"] in ("gold", "silver")
        assert call.from_address.startswith("+1") and call.queue.dn == "8000"


def test_stop_ends_arrivals_but_not_the_customers_already_calling():
    lab = Lab(profile(rate=600, patience=None))
    lab.gen.start()
    lab.run(120)
    lab.gen.stop()
    offered = lab.totals()["offered"]
    lab.run(600)
    t = lab.totals()
    assert t["offered"] == offered and t["waiting"] == offered  # patient, still queued
    assert not lab.gen.running and lab.gen.elapsed == pytest.approx(120, abs=1e-6)


def test_reset_starts_the_profile_over():
    lab = Lab(profile(rate=600, patience=None))
    lab.gen.start()
    lab.run(300)
    before = [(c.arrived, c.number) for c in lab.gen.calls()]
    lab.cc.reset()
    lab.gen.reset()
    assert lab.totals()["offered"] == 0
    start = lab.cc.env.now
    lab.run(300)
    after = [(c.arrived - start, c.number) for c in lab.gen.calls()]
    assert [n for _, n in after] == [n for _, n in before]
    assert [t for t, _ in after] == pytest.approx([t for t, _ in before])


def test_a_profile_dn_must_be_a_queue_of_the_roster():
    traffic = parse_profile(
        {
            "name": "wrong",
            "queues": {"8123": {"arrivals": {"calls_per_hour": 1}, "handle_time": {"mean": 1}}},
        }
    )
    with pytest.raises(ProfileError, match=r"queues\.8123: not a queue DN .*8000"):
        TrafficGenerator(ContactCenter(default_config()), traffic)
