"""The telephone side of the Finesse layer: calls, legs, routing, ringing, handsets.

`Telephony` places and ends calls in the `Records`: customers' calls arrive, the ACD routes
them (`route`), handsets ring, answer and hang up, agents' calls are originated and dialled.
Agents' states follow through the `AgentDesk` it is given; handsets hear of it via `Phones`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from connector.finesse.models import (
    AgentState,
    DialogState,
    MobileAgentMode,
    ParticipantState,
)
from finesse_sim.model import agent_states
from finesse_sim.model.acd import Queue
from finesse_sim.model.agent_desk import AgentDesk, personal, system_code
from finesse_sim.model.call_variables import check_variables
from finesse_sim.model.calls import CONNECTED, LIVE, Agent, Call, Leg
from finesse_sim.model.errors import finesse_error
from finesse_sim.model.phones import Phones
from finesse_sim.model.publisher import Publisher
from finesse_sim.model.records import Records

S = AgentState
P = ParticipantState
D = DialogState
DIALABLE = re.compile(r"^\+?[0-9*#]+$")  # what a phone can dial


def agents_of(call: Call) -> list[Agent]:
    """The call's agents, each once, in the order they joined."""
    seen: list[Agent] = []
    for leg in call.legs:
        if leg.agent is not None and leg.agent not in seen:
            seen.append(leg.agent)
    return seen


@dataclass(eq=False, slots=True)
class Telephony:
    records: Records
    publisher: Publisher
    phones: Phones
    desk: AgentDesk

    def phone_answer(self, number: str) -> str:
        """The handset at `number` goes off hook on its ringing call. Returns the call id."""
        with self.publisher.input(""):
            setup = self.desk.answer_setup_call(number)
            if setup is not None:
                return setup
            for call in self.records.calls.values():
                for leg in call.legs:
                    if leg.phone == number and leg.state == P.INITIATING and call.dial_target:
                        self.phones.send(number, "connected", callId=call.id)
                        self.dial(call)
                        return call.id
            leg = self._ringing_leg(number)
            self.answer(leg)
            return leg.call.id

    def phone_reject(self, number: str) -> str:
        with self.publisher.input(""):
            setup = self.desk.reject_setup_call(number)
            if setup is not None:
                return setup
            leg = self._ringing_leg(number)
            if leg.routed and leg.agent is not None:
                self._ring_no_answer(leg)
            else:
                self._fail_leg(leg, "BUSY")
            return leg.call.id

    def phone_hangup(self, number: str) -> list[str]:
        with self.publisher.input(""):
            ended = []
            for call in list(self.records.calls.values()):
                for leg in call.legs:
                    if leg.phone == number and leg.state in LIVE and not leg.gone:
                        if leg.state == P.ALERTING:
                            continue
                        ended.append(call.id)
                        self.drop_leg(leg)
            for agent in self.records.agents.values():
                if (
                    agent.nailed_up
                    and agent.mobile
                    and agent.mobile.dial_number == number
                    and agent.logged_in
                ):
                    # Hanging up the nailed connection signs the agent out (UNCONFIRMED).
                    ended.append(f"nailed-{agent.id}")
                    for leg in agent.live_legs():
                        self.drop_leg(leg)
                    self.desk.end_wrap_up(agent)
                    self.desk.logout(agent, None)
            if not ended:
                raise finesse_error(404, "Not Found", "No call on this phone", number)
            return ended

    def _ringing_leg(self, number: str) -> Leg:
        for call in self.records.calls.values():
            for leg in call.legs:
                if leg.phone == number and leg.state == P.ALERTING and not leg.gone:
                    return leg
        raise finesse_error(404, "Not Found", "This phone is not ringing", number)

    def leg(self, call: Call, address: str, state: str, **kwargs: Any) -> Leg:
        now = self.records.timestamp()
        leg = Leg(call, address, state, start_time=now, state_change_time=now, **kwargs)
        call.legs.append(leg)
        if leg.agent is not None:
            leg.agent.legs.append(leg)
        self.publisher.touch_call(call)
        return leg

    def set_leg(self, leg: Leg, state: str, cause: str = "") -> None:
        if leg.state != state:
            leg.state = state
            leg.state_change_time = self.records.timestamp()
        leg.state_cause = cause
        self.publisher.touch_call(leg.call)
        if leg.agent is not None:
            # TRANSFER/CONFERENCE on the agent's other calls depend on this leg's state.
            for other in leg.agent.legs:
                self.publisher.touch_call(other.call)

    def inject_call(
        self, dn: str, from_address: str, variables: dict[str, str] | None = None
    ) -> str:
        """A customer dials `dn` (a queue DN, an agent extension or any number)."""
        variables = dict(variables or {})
        check_variables(variables)
        with self.publisher.input(""):
            queue = self.records.acd.queue_for(dn)
            call = self.records.new_call(
                state=D.INITIATED,
                from_address=from_address,
                to_address=dn,
                call_type="ACD_IN" if queue else "OTHER_IN",
                dialed_number=dn,
                dnis=dn,
                queue=queue,
                variables=variables,
            )
            self.leg(call, from_address, P.INITIATED, phone=from_address)
            if queue is not None:
                self.records.acd.offer(call, queue)
            else:
                self.deliver(call, dn)
            return call.id

    def route(self, call: Any, agent_id: str, queue: Queue) -> None:
        agent = self.records.agents[agent_id]
        self.desk.set_state(agent, S.RESERVED, None)
        call.dnis = agent.extension
        self._deliver_to_agent(call, agent, routed=True)

    def originate(self, call: Call, agent: Agent, to_address: str) -> None:
        """An agent places `call` (MAKE_CALL, CONSULT_CALL) from its device to `to_address`."""
        leg = self.leg(call, agent.extension, P.INITIATING, agent=agent, phone=agent.phone)
        call.dial_target = to_address
        self.desk.update_agent(agent)
        on_a_call = any(x is not leg for x in agent.live_legs())
        if agent.mobile and agent.mobile.mode == MobileAgentMode.CALL_BY_CALL and not on_a_call:
            # Call-by-call outbound: the agent's own phone rings first (MA90); the far end
            # is dialled once the agent answers it (see phone_answer). A consult is placed
            # while the phone is already connected, so it is dialled at once.
            self.phones.send(
                leg.phone, "ring", callId=call.id, **{"from": to_address, "to": leg.phone}
            )
            return
        self.publisher.after(self.records.config.timers.network, lambda: self.dial(call))

    def dial(self, call: Call) -> None:
        if call.ended or not call.dial_target:
            return
        to_address, call.dial_target = call.dial_target, ""
        for leg in call.legs:
            if leg.state == P.INITIATING:
                self.set_leg(leg, P.INITIATED)
        self.set_call_state(call)
        self.publisher.flush()
        self.deliver(call, to_address)

    def deliver(self, call: Call, number: str) -> None:
        """Ring `number`: a queue DN queues the call, an agent device alerts the agent, any
        other dialable number is an outside phone."""
        queue = self.records.acd.queue_for(number)
        if queue is not None:
            call.queue = queue
            self.records.acd.offer(call, queue)
            return
        agent = self.records.device_agent(number)
        if agent is not None:
            if agent.live_legs():
                self._fail_call(call, "BUSY")
                return
            self._deliver_to_agent(call, agent, routed=False)
            return
        if not DIALABLE.match(number):
            self._fail_call(call, "BAD_DESTINATION")
            return
        leg = self.leg(call, number, P.ALERTING, phone=number)
        self.set_call_state(call)
        self.phones.send(
            number, "ring", callId=call.id, **{"from": call.from_address, "to": number}
        )
        delay = self.records.config.timers.external_answer
        if delay >= 0:
            leg.answer_timer = self.publisher.after(delay, lambda: self._answer_if_ringing(leg))

    def _deliver_to_agent(self, call: Call, agent: Agent, *, routed: bool) -> None:
        leg = self.leg(call, agent.extension, P.ALERTING, agent=agent, routed=routed)
        leg.phone = agent.phone
        self.set_call_state(call)
        if not routed and agent.state == S.READY and not personal(self.records.config, call):
            self.desk.set_state(agent, S.RESERVED, None)
        self.records.acd.agent_unavailable(agent.id)
        self.phones.send(
            leg.phone, "ring", callId=call.id, **{"from": call.from_address, "to": call.to_address}
        )
        if routed:
            leg.rona = self.publisher.after(
                self.records.config.timers.ring_no_answer, lambda: self._ring_no_answer(leg)
            )

    def _answer_if_ringing(self, leg: Leg) -> None:
        if leg.state == P.ALERTING and not leg.gone:
            self.answer(leg)

    def _ring_no_answer(self, leg: Leg) -> None:
        """RONA: the agent goes NOT_READY with a system code, the call goes back to the
        front of its queue."""
        if leg.state != P.ALERTING or leg.gone or leg.agent is None:
            return
        agent, call = leg.agent, leg.call
        self.remove_leg(leg)
        self.phones.send(leg.phone, "ended", callId=call.id)
        code = self.records.config.system_codes.rona_code(self.records.config.deployment)
        self.desk.set_state(agent, S.NOT_READY, system_code(S.NOT_READY, code, "Ring No Answer"))
        self.publisher.touch(agent, force=True)
        if call.queue is not None and not call.ended:
            call.state = D.INITIATED
            self.records.acd.offer(call, call.queue, front=True)
        else:
            self.end_call(call)

    def remove_leg(self, leg: Leg) -> None:
        for timer in (leg.rona, leg.answer_timer):
            if timer:
                timer.cancel()
        leg.state = P.DROPPED
        leg.gone = True
        if leg.agent is not None:
            leg.agent.legs = [x for x in leg.agent.legs if x is not leg]
        self.publisher.touch_call(leg.call)

    def set_call_state(self, call: Call) -> None:
        states = {leg.state for leg in call.legs if not leg.gone}
        if call.ended:
            new = D.DROPPED
        elif states & CONNECTED and len(call.connected()) >= 2:
            new = D.ACTIVE
        elif P.ALERTING in states:
            new = D.ALERTING
        elif P.FAILED in states:
            new = D.FAILED
        elif P.INITIATED in states:
            new = D.INITIATED
        elif P.INITIATING in states:
            new = D.INITIATING
        elif states & CONNECTED:
            new = D.ACTIVE
        else:
            new = D.DROPPED
        if new != call.state:
            call.state = new
            self.publisher.touch_call(call)

    def answer(self, leg: Leg) -> None:
        call = leg.call
        for timer in (leg.rona, leg.answer_timer):
            if timer:
                timer.cancel()
        leg.answered = True
        self.set_leg(leg, P.ACTIVE)
        for other in call.legs:
            if other is not leg and other.state in (P.INITIATED, P.INITIATING) and not other.gone:
                other.answered = True
                self.set_leg(other, P.ACTIVE)
        self.set_call_state(call)
        for other in call.legs:
            if other.state in CONNECTED:
                self.phones.send(other.phone, "connected", callId=call.id)
        for agent in agents_of(call):
            self.desk.update_agent(agent)

    def _fail_call(self, call: Call, cause: str) -> None:
        """The far end is busy or not dialable: the caller's leg FAILED (only DROP)."""
        for leg in call.legs:
            if leg.state in (P.INITIATING, P.INITIATED) and not leg.gone:
                self.set_leg(leg, P.FAILED, cause)
        if not any(leg.agent for leg in call.legs if leg.state == P.FAILED):
            self.end_call(call)
            return
        self.set_call_state(call)

    def _fail_leg(self, leg: Leg, cause: str) -> None:
        """The called phone rejected the call."""
        self.remove_leg(leg)
        self.phones.send(leg.phone, "ended", callId=leg.call.id)
        self._fail_call(leg.call, cause)
        if leg.agent is not None:
            self.desk.update_agent(leg.agent)  # e.g. back from RESERVED

    def drop_leg(self, leg: Leg) -> None:
        call = leg.call
        for timer in (leg.rona, leg.answer_timer):
            if timer:
                timer.cancel()
        self.set_leg(leg, P.DROPPED)
        self.phones.send(leg.phone, "ended", callId=call.id)
        remaining = [x for x in call.legs if x.state in LIVE and not x.gone]
        if len(call.connected()) >= 2 or (
            len(remaining) >= 2 and any(x.state == P.ALERTING for x in remaining)
        ):
            # Someone left a conference (or the transferring agent left a ringing call).
            self.publisher.flush()
            self.leave(leg)
            self.set_call_state(call)
            return
        if leg.agent is None:
            # The caller hung up: its DROPPED is seen before END_CALL (docs/finesse.md, Dialogs and
            # their actions). When the agent drops, the one PUT shows every participant DROPPED.
            self.publisher.flush()
        self.end_call(call)

    def leave(self, leg: Leg) -> None:
        """An agent's leg is over but the call goes on for others."""
        agent = leg.agent
        if agent is None:
            leg.gone = True
            return
        if self._wraps(agent, leg):
            self.set_leg(leg, P.WRAP_UP)
        else:
            leg.gone = True
            agent.legs = [x for x in agent.legs if x is not leg]
            self.publisher.touch_call(leg.call)
        self.desk.update_agent(agent)

    def _wraps(self, agent: Agent, leg: Leg) -> bool:
        if personal(self.records.config, leg.call):
            return False
        if leg.call.outgoing_agent is agent:
            mode = self.records.config.wrap_up_on_outgoing
        elif leg.call.queue is not None:
            mode = self.records.config.wrap_up_on_incoming
        else:
            # CCE's work mode on incoming is for inbound ACD calls: an internal call such as
            # a consult, or a direct call to the extension, is not wrapped up.
            return False
        return agent_states.wrap_up_applies(mode, leg.answered) and not [
            x for x in agent.live_legs() if x is not leg
        ]

    def end_call(self, call: Call) -> None:
        """END_CALL: every leg DROPPED (PUT), then DELETE, or WRAP_UP for an agent whose
        wrap-up applies (docs/finesse.md, Dialogs and their actions)."""
        if call.ended:
            return
        self.records.acd.withdraw(call)
        call.ended = True
        for leg in call.legs:
            if leg.state in LIVE and not leg.gone:
                for timer in (leg.rona, leg.answer_timer):
                    if timer:
                        timer.cancel()
                self.set_leg(leg, P.DROPPED)
                self.phones.send(leg.phone, "ended", callId=call.id)
        self.set_call_state(call)
        self.publisher.flush()
        for leg in call.legs:
            if leg.agent is not None and not leg.gone:
                self.leave(leg)
        if call.associated is not None and call.associated.associated is call:
            call.associated.associated = None
            self.publisher.touch_call(call.associated)
        self.records.forget(call)

    def hangup_call(self, call_id: str) -> None:
        """The customer (the call's first leg) hangs up; a queued call is abandoned."""
        with self.publisher.input(""):
            call = self.records.calls.get(call_id)
            if call is None:
                raise finesse_error(404, "Not Found", "Unknown call", call_id)
            if self.records.acd.withdraw(call):
                call.ended = True
                self.records.calls.pop(call.id, None)
                self.phones.send(call.from_address, "ended", callId=call.id)
                return
            customer = next(
                (x for x in call.legs if x.agent is None and x.state in LIVE and not x.gone),
                None,
            )
            if customer is None:
                self.end_call(call)
            else:
                self.drop_leg(customer)
