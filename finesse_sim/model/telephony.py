"""The telephone side of the Finesse layer: phones, calls, legs, routing, ringing.

A mixin of `ContactCenter`: customers' calls arrive, the queueing core routes them, handsets
ring, answer and hang up, calls end; agents' states follow through `_update_agent`.
"""

from __future__ import annotations

import re
from typing import Any

from connector.finesse.models import (
    AgentState,
    DialogState,
    ParticipantState,
)
from finesse_sim.model import agent_states
from finesse_sim.model.acd import Queue
from finesse_sim.model.calls import CONNECTED, LIVE, Agent, Call, Leg
from finesse_sim.model.errors import finesse_error

S = AgentState
P = ParticipantState
D = DialogState
DIALABLE = re.compile(r"^\+?[0-9*#]+$")  # what a phone can dial


class Telephony:
    def _phone(self, number: str | None, event: str, **data: Any) -> None:
        if number:
            self.on_phone_event(number, {"event": event, "number": number, **data})

    def phone_answer(self, number: str) -> str:
        """The handset at `number` goes off hook on its ringing call. Returns the call id."""
        with self._input(""):
            for agent in self.agents.values():
                if (
                    agent.mobile
                    and agent.mobile.dial_number == number
                    and agent.login_timer is not None
                    and not agent.logged_in
                ):
                    agent.login_timer.cancel()
                    agent.login_timer = None
                    agent.nailed_up = True
                    self._phone(number, "connected", callId=f"nailed-{agent.id}")
                    self._request_id = agent.login_request_id
                    self._complete_login(agent)
                    return f"nailed-{agent.id}"
            for call in self.calls.values():
                for leg in call.legs:
                    if leg.phone == number and leg.state == P.INITIATING and call.dial_target:
                        self._phone(number, "connected", callId=call.id)
                        self._dial(call)
                        return call.id
            leg = self._ringing_leg(number)
            self._answer(leg)
            return leg.call.id

    def phone_reject(self, number: str) -> str:
        with self._input(""):
            for agent in self.agents.values():
                if agent.mobile and agent.mobile.dial_number == number and agent.login_timer:
                    self._nailed_failed(agent)
                    return f"nailed-{agent.id}"
            leg = self._ringing_leg(number)
            if leg.routed and leg.agent is not None:
                self._ring_no_answer(leg)
            else:
                self._fail_leg(leg, "BUSY")
            return leg.call.id

    def phone_hangup(self, number: str) -> list[str]:
        with self._input(""):
            ended = []
            for call in list(self.calls.values()):
                for leg in call.legs:
                    if leg.phone == number and leg.state in LIVE and not leg.gone:
                        if leg.state == P.ALERTING:
                            continue
                        ended.append(call.id)
                        self._drop_leg(leg)
            for agent in self.agents.values():
                if (
                    agent.nailed_up
                    and agent.mobile
                    and agent.mobile.dial_number == number
                    and agent.logged_in
                ):
                    # Hanging up the nailed connection signs the agent out (UNCONFIRMED).
                    ended.append(f"nailed-{agent.id}")
                    for leg in agent.live_legs():
                        self._drop_leg(leg)
                    self._end_wrap_up(agent)
                    self._logout(agent, None)
            if not ended:
                raise finesse_error(404, "Not Found", "No call on this phone", number)
            return ended

    def _ringing_leg(self, number: str) -> Leg:
        for call in self.calls.values():
            for leg in call.legs:
                if leg.phone == number and leg.state == P.ALERTING and not leg.gone:
                    return leg
        raise finesse_error(404, "Not Found", "This phone is not ringing", number)

    def _new_call(self, **kwargs: Any) -> Call:
        call = Call(id=str(next(self._ids)), **kwargs)
        self.calls[call.id] = call
        return call

    def _leg(self, call: Call, address: str, state: str, **kwargs: Any) -> Leg:
        now = self.timestamp()
        leg = Leg(call, address, state, start_time=now, state_change_time=now, **kwargs)
        call.legs.append(leg)
        if leg.agent is not None:
            leg.agent.legs.append(leg)
        self._touch_call(call)
        return leg

    def _set_leg(self, leg: Leg, state: str, cause: str = "") -> None:
        if leg.state != state:
            leg.state = state
            leg.state_change_time = self.timestamp()
        leg.state_cause = cause
        self._touch_call(leg.call)
        if leg.agent is not None:
            # TRANSFER/CONFERENCE on the agent's other calls depend on this leg's state.
            for other in leg.agent.legs:
                self._touch_call(other.call)

    def inject_call(
        self, dn: str, from_address: str, variables: dict[str, str] | None = None
    ) -> str:
        """A customer dials `dn` (a queue DN, an agent extension or any number)."""
        variables = dict(variables or {})
        self._check_variables(variables)
        with self._input(""):
            queue = self.acd.queue_for(dn)
            call = self._new_call(
                state=D.INITIATED,
                from_address=from_address,
                to_address=dn,
                call_type="ACD_IN" if queue else "OTHER_IN",
                dialed_number=dn,
                dnis=dn,
                queue=queue,
                variables=variables,
            )
            self._leg(call, from_address, P.INITIATED, phone=from_address)
            if queue is not None:
                self.acd.offer(call, queue)
            else:
                self._deliver(call, dn)
            return call.id

    def _on_route(self, call: Any, agent_id: str, queue: Queue) -> None:
        agent = self.agents[agent_id]
        self._set_state(agent, S.RESERVED, None)
        call.dnis = agent.extension
        self._deliver_to_agent(call, agent, routed=True)

    def _device_agent(self, number: str) -> Agent | None:
        return next(
            (a for a in self.agents.values() if a.logged_in and a.extension == number), None
        )

    def _deliver(self, call: Call, number: str) -> None:
        """Ring `number`: a queue DN queues the call, an agent device alerts the agent, any
        other dialable number is an outside phone."""
        queue = self.acd.queue_for(number)
        if queue is not None:
            call.queue = queue
            self.acd.offer(call, queue)
            return
        agent = self._device_agent(number)
        if agent is not None:
            if agent.live_legs():
                self._fail_call(call, "BUSY")
                return
            self._deliver_to_agent(call, agent, routed=False)
            return
        if not DIALABLE.match(number):
            self._fail_call(call, "BAD_DESTINATION")
            return
        leg = self._leg(call, number, P.ALERTING, phone=number)
        self._set_call_state(call)
        self._phone(number, "ring", callId=call.id, **{"from": call.from_address, "to": number})
        delay = self.config.timers.external_answer
        if delay >= 0:
            leg.answer_timer = self._after(delay, lambda: self._answer_if_ringing(leg))

    def _deliver_to_agent(self, call: Call, agent: Agent, *, routed: bool) -> None:
        leg = self._leg(call, agent.extension, P.ALERTING, agent=agent, routed=routed)
        leg.phone = agent.phone
        self._set_call_state(call)
        if not routed and agent.state == S.READY and not self._personal(call):
            self._set_state(agent, S.RESERVED, None)
        self.acd.agent_unavailable(agent.id)
        self._phone(
            leg.phone, "ring", callId=call.id, **{"from": call.from_address, "to": call.to_address}
        )
        if routed:
            leg.rona = self._after(
                self.config.timers.ring_no_answer, lambda: self._ring_no_answer(leg)
            )

    def _answer_if_ringing(self, leg: Leg) -> None:
        if leg.state == P.ALERTING and not leg.gone:
            self._answer(leg)

    def _ring_no_answer(self, leg: Leg) -> None:
        """RONA: the agent goes NOT_READY with a system code, the call goes back to the
        front of its queue."""
        if leg.state != P.ALERTING or leg.gone or leg.agent is None:
            return
        agent, call = leg.agent, leg.call
        self._remove_leg(leg)
        self._phone(leg.phone, "ended", callId=call.id)
        code = self.config.system_codes.rona_code(self.config.deployment)
        self._set_state(agent, S.NOT_READY, self._system_code(S.NOT_READY, code, "Ring No Answer"))
        self._touch(agent, force=True)
        if call.queue is not None and not call.ended:
            call.state = D.INITIATED
            self.acd.offer(call, call.queue, front=True)
        else:
            self._end_call(call)

    def _remove_leg(self, leg: Leg) -> None:
        for timer in (leg.rona, leg.answer_timer):
            if timer:
                timer.cancel()
        leg.state = P.DROPPED
        leg.gone = True
        if leg.agent is not None:
            leg.agent.legs = [x for x in leg.agent.legs if x is not leg]
        self._touch_call(leg.call)

    def _set_call_state(self, call: Call) -> None:
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
            self._touch_call(call)

    def _answer(self, leg: Leg) -> None:
        call = leg.call
        for timer in (leg.rona, leg.answer_timer):
            if timer:
                timer.cancel()
        leg.answered = True
        self._set_leg(leg, P.ACTIVE)
        for other in call.legs:
            if other is not leg and other.state in (P.INITIATED, P.INITIATING) and not other.gone:
                other.answered = True
                self._set_leg(other, P.ACTIVE)
        self._set_call_state(call)
        for other in call.legs:
            if other.state in CONNECTED:
                self._phone(other.phone, "connected", callId=call.id)
        for agent in self._agents_of(call):
            self._update_agent(agent)

    def _agents_of(self, call: Call) -> list[Agent]:
        seen: list[Agent] = []
        for leg in call.legs:
            if leg.agent is not None and leg.agent not in seen:
                seen.append(leg.agent)
        return seen

    def _fail_call(self, call: Call, cause: str) -> None:
        """The far end is busy or not dialable: the caller's leg FAILED (only DROP)."""
        for leg in call.legs:
            if leg.state in (P.INITIATING, P.INITIATED) and not leg.gone:
                self._set_leg(leg, P.FAILED, cause)
        if not any(leg.agent for leg in call.legs if leg.state == P.FAILED):
            self._end_call(call)
            return
        self._set_call_state(call)

    def _personal(self, call: Call) -> bool:
        """A non-ICD call on CCX: it never touches the agent's state (FINESSE.md 3.2)."""
        return self.config.deployment == "UCCX" and call.queue is None

    def _fail_leg(self, leg: Leg, cause: str) -> None:
        """The called phone rejected the call."""
        self._remove_leg(leg)
        self._phone(leg.phone, "ended", callId=leg.call.id)
        self._fail_call(leg.call, cause)
        if leg.agent is not None:
            self._update_agent(leg.agent)  # e.g. back from RESERVED

    def _drop_leg(self, leg: Leg) -> None:
        call = leg.call
        for timer in (leg.rona, leg.answer_timer):
            if timer:
                timer.cancel()
        self._set_leg(leg, P.DROPPED)
        self._phone(leg.phone, "ended", callId=call.id)
        remaining = [x for x in call.legs if x.state in LIVE and not x.gone]
        if len(call.connected()) >= 2 or (
            len(remaining) >= 2 and any(x.state == P.ALERTING for x in remaining)
        ):
            # Someone left a conference (or the transferring agent left a ringing call).
            self._flush()
            self._leave(leg)
            self._set_call_state(call)
            return
        if leg.agent is None:
            # The caller hung up: its DROPPED is seen before END_CALL (FINESSE.md 2.2). When
            # the agent drops, the one PUT shows every participant DROPPED.
            self._flush()
        self._end_call(call)

    def _leave(self, leg: Leg) -> None:
        """An agent's leg is over but the call goes on for others."""
        agent = leg.agent
        if agent is None:
            leg.gone = True
            return
        if self._wraps(agent, leg):
            self._set_leg(leg, P.WRAP_UP)
        else:
            leg.gone = True
            agent.legs = [x for x in agent.legs if x is not leg]
            self._touch_call(leg.call)
        self._update_agent(agent)

    def _wraps(self, agent: Agent, leg: Leg) -> bool:
        if self._personal(leg.call):
            return False
        if leg.call.outgoing_agent is agent:
            mode = self.config.wrap_up_on_outgoing
        elif leg.call.queue is not None:
            mode = self.config.wrap_up_on_incoming
        else:
            # CCE's work mode on incoming is for inbound ACD calls: an internal call such as
            # a consult, or a direct call to the extension, is not wrapped up.
            return False
        return agent_states.wrap_up_applies(mode, leg.answered) and not [
            x for x in agent.live_legs() if x is not leg
        ]

    def _end_call(self, call: Call) -> None:
        """END_CALL: every leg DROPPED (PUT), then DELETE, or WRAP_UP for an agent whose
        wrap-up applies (FINESSE.md 2.2, CTI event mapping)."""
        if call.ended:
            return
        self.acd.withdraw(call)
        call.ended = True
        for leg in call.legs:
            if leg.state in LIVE and not leg.gone:
                for timer in (leg.rona, leg.answer_timer):
                    if timer:
                        timer.cancel()
                self._set_leg(leg, P.DROPPED)
                self._phone(leg.phone, "ended", callId=call.id)
        self._set_call_state(call)
        self._flush()
        for leg in call.legs:
            if leg.agent is not None and not leg.gone:
                self._leave(leg)
        if call.associated is not None and call.associated.associated is call:
            call.associated.associated = None
            self._touch_call(call.associated)
        self._forget(call)

    def hangup_call(self, call_id: str) -> None:
        """The customer (the call's first leg) hangs up; a queued call is abandoned."""
        with self._input(""):
            call = self.calls.get(call_id)
            if call is None:
                raise finesse_error(404, "Not Found", "Unknown call", call_id)
            if self.acd.withdraw(call):
                call.ended = True
                self.calls.pop(call.id, None)
                self._phone(call.from_address, "ended", callId=call.id)
                return
            customer = next(
                (x for x in call.legs if x.agent is None and x.state in LIVE and not x.gone),
                None,
            )
            if customer is None:
                self._end_call(call)
            else:
                self._drop_leg(customer)
