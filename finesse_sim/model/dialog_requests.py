"""Agents' dialog requests: MAKE_CALL and every `requestedAction` on a Dialog.

`DialogRequests` checks each request against what the agent's participant offers (one
table, `participant_actions`, via `views.actions`), then carries it out with the
`Telephony` it is given; agents' states follow through the `AgentDesk`.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.finesse.models import (
    Action,
    AgentState,
    DialogRequest,
    DialogState,
    ParticipantState,
)
from finesse_sim.model import views
from finesse_sim.model.agent_desk import AgentDesk, system_code
from finesse_sim.model.call_variables import check_variables
from finesse_sim.model.calls import CONNECTED, LIVE, Agent, Call, Leg
from finesse_sim.model.errors import finesse_error, require
from finesse_sim.model.phones import Phones
from finesse_sim.model.publisher import Publisher
from finesse_sim.model.records import Records
from finesse_sim.model.telephony import DIALABLE, Telephony, agents_of

S = AgentState
P = ParticipantState
D = DialogState
DTMF_DIGITS = {"UCCE": set("0123456789*#ABCD"), "UCCX": set("0123456789*#")}
WRAP_UP_REASON_MAX = 40
ALL_ACTIONS = frozenset(a.value for a in Action)
# Real actions of other platforms or features the simulator does not model: CCE answers
# START_RECORDING and the direct-preview ACCEPT/CLOSE/REJECT with 501 (DG125 p123, p126).
NOT_IMPLEMENTED = frozenset({"START_RECORDING", "ACCEPT", "CLOSE", "REJECT"})
NEEDS_TARGET = frozenset(ALL_ACTIONS - {Action.UPDATE_CALL_DATA, Action.MAKE_CALL})


@dataclass(eq=False, slots=True)
class DialogRequests:
    records: Records
    publisher: Publisher
    phones: Phones
    desk: AgentDesk
    telephony: Telephony

    def make_call(self, agent: Agent, req: DialogRequest, request_id: str = "") -> None:
        """POST /User/{id}/Dialogs with MAKE_CALL."""
        with self.publisher.input(request_id):
            if req.requested_action != Action.MAKE_CALL:
                require(req.requested_action, "requestedAction")
                raise finesse_error(
                    400, "Invalid Input", "Invalid requestedAction", "requestedAction"
                )
            require(req.to_address, "toAddress")
            require(req.from_address, "fromAddress")
            if not agent.logged_in:
                raise finesse_error(400, "Invalid State", "User is not logged in", "state")
            if req.from_address != agent.extension:
                raise finesse_error(
                    400, "Invalid Input", "fromAddress is not your extension", "fromAddress"
                )
            if req.to_address == agent.extension:
                raise finesse_error(
                    400, "Invalid Destination", "Cannot call own extension", "toAddress"
                )
            variables = {}
            if req.media_properties is not None:
                if self.records.config.deployment == "UCCX":
                    raise finesse_error(
                        400, "Invalid Input", "mediaProperties not allowed", "mediaProperties"
                    )
                if req.media_properties.wrap_up_reason:
                    raise finesse_error(
                        400, "Invalid Input", "wrapUpReason not allowed", "wrapUpReason"
                    )
                variables = dict(req.media_properties.call_variables)
                check_variables(variables)
            callable_from = (
                (S.READY, S.NOT_READY)
                if self.records.config.deployment == "UCCE"
                else (S.NOT_READY,)
            )  # calling from READY is a CCE 12.5 feature
            if agent.state not in callable_from or agent.live_legs():
                raise finesse_error(
                    400, "Invalid State", f"Cannot make a call in state {agent.state}", "state"
                )
            if agent.state == S.READY:
                # CCE 12.5+: calling from READY moves the agent NOT_READY with 50006.
                code = self.records.config.system_codes.made_call_from_ready
                self.desk.set_state(agent, S.NOT_READY, system_code(S.NOT_READY, code, "Made call"))
                self.publisher.flush()
            call = self.records.new_call(
                state=D.INITIATING,
                from_address=agent.extension,
                to_address=req.to_address,
                call_type="AGENT_INSIDE" if self.records.device_agent(req.to_address) else "OUT",
                dialed_number=req.to_address,
                variables=variables,
                outgoing_agent=agent,
            )
            self.telephony.originate(call, agent, req.to_address)

    def dialog_action(
        self, agent: Agent, dialog_id: str, req: DialogRequest, request_id: str = ""
    ) -> None:
        """PUT /Dialog/{id} with a requestedAction. Raises ApiErrorException."""
        with self.publisher.input(request_id):
            action = req.requested_action
            require(action, "requestedAction")
            if action in NOT_IMPLEMENTED:
                raise finesse_error(
                    501, "Not Implemented", f"{action} is not supported", "requestedAction"
                )
            if action not in ALL_ACTIONS or action == Action.MAKE_CALL:
                raise finesse_error(
                    400, "Invalid Input", "Invalid requestedAction", "requestedAction"
                )
            call, leg = self.own_call(agent, dialog_id)
            if action in NEEDS_TARGET:
                if not req.target_media_address:
                    raise finesse_error(
                        400,
                        "Parameter Missing",
                        "targetMediaAddress is required",
                        "targetMediaAddress",
                    )
                if req.target_media_address != leg.address:
                    raise finesse_error(
                        400, "Invalid Input", "Invalid targetMediaAddress", "targetMediaAddress"
                    )
            if action not in views.actions(self.records.config, leg):
                # DG125 p108: DTMF on a HELD participant is a 401 Invalid State.
                status = 401 if leg.state == P.HELD and action == Action.SEND_DTMF else 400
                raise finesse_error(
                    status,
                    "Invalid State",
                    f"Action {action} is not allowed in participant state {leg.state}",
                    "requestedAction",
                )
            getattr(self, f"_do_{action.lower()}")(agent, call, leg, req)

    def own_call(self, agent: Agent, dialog_id: str) -> tuple[Call, Leg]:
        """The call of `dialog_id` and the agent's leg on it, as Finesse lets the agent see
        it: 404 for an unknown or finished one, 401 for somebody else's."""
        call = self.records.calls.get(dialog_id)
        if call is None:
            raise finesse_error(
                404, "Not Found", "Invalid dialogId specified for dialog", dialog_id
            )
        leg = call.leg_of(agent)
        if leg is None:
            if any(x.agent is agent for x in call.legs):
                # The agent's part of the call is over (e.g. ring-no-answer re-queued it).
                raise finesse_error(
                    404, "Not Found", "Invalid dialogId specified for dialog", dialog_id
                )
            raise finesse_error(
                401, "Invalid Authorization User Specified", "UNAUTHORIZED", agent.id
            )
        return call, leg

    def _do_answer(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        # On a CALL_BY_CALL agent this also connects the ringing handset (UNCONFIRMED how real
        # Mobile Agent treats a desktop answer there).
        self.telephony.answer(leg)

    def _do_hold(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        self.telephony.set_leg(leg, P.HELD)
        self.phones.send(leg.phone, "held", callId=call.id)
        self.desk.update_agent(agent)

    def _do_retrieve(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        # Retrieving one call puts the agent's other active call on hold, as the phone does.
        for other in agent.live_legs():
            if other.state == P.ACTIVE:
                self.telephony.set_leg(other, P.HELD)
                self.phones.send(other.phone, "held", callId=other.call.id)
        self.telephony.set_leg(leg, P.ACTIVE)
        self.phones.send(leg.phone, "connected", callId=call.id)
        self.desk.update_agent(agent)

    def _do_drop(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        self.telephony.drop_leg(leg)

    def _do_consult_call(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        require(req.to_address, "toAddress")
        if req.to_address == agent.extension:
            raise finesse_error(
                400, "Invalid Destination", "Cannot call own extension", "toAddress"
            )
        self.telephony.set_leg(leg, P.HELD)
        self.phones.send(leg.phone, "held", callId=call.id)
        consult = self.records.new_call(
            state=D.INITIATING,
            from_address=agent.extension,
            to_address=req.to_address,
            call_type="CONSULT",
            dialed_number=req.to_address,
            variables=dict(call.variables),
            outgoing_agent=agent,
            associated=call,
        )
        call.associated = consult
        self.publisher.touch_call(call)
        self.telephony.originate(consult, agent, req.to_address)

    def _consult_pair(self, agent: Agent, call: Call) -> tuple[Call, Leg]:
        consult = call.associated
        other = consult.leg_of(agent) if consult else None
        if consult is None or other is None or other.state != P.ACTIVE:
            raise finesse_error(400, "Invalid State", "No active consult call", "requestedAction")
        return consult, other

    def _do_transfer(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        """Consult transfer: the held caller joins the consult call, whose dialog survives;
        call data follows the call."""
        consult, own = self._consult_pair(agent, call)
        movers = [x for x in call.legs if x is not leg and x.state in LIVE and not x.gone]
        # The transferring agent's customer-call leg ends (wrap-up applies to it).
        self.telephony.set_leg(leg, P.DROPPED)
        for mover in movers:
            call.legs.remove(mover)
            mover.call = consult
            consult.legs.insert(0, mover)
            if mover.state == P.HELD:
                self.telephony.set_leg(mover, P.ACTIVE)
            self.publisher.touch_call(consult)
        consult.variables = dict(call.variables)
        consult.call_type = "TRANSFER"
        consult.queue = call.queue
        consult.associated = None
        consult.outgoing_agent = None
        call.associated = None
        self.telephony.remove_leg(own)
        self.phones.send(own.phone, "ended", callId=consult.id)
        self.telephony.set_call_state(consult)
        self.telephony.end_call(call)
        for other in agents_of(consult):
            self.desk.update_agent(other)

    def _do_conference(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        """Consult conference: the consulted party joins the original call."""
        consult, own = self._consult_pair(agent, call)
        movers = [x for x in consult.legs if x is not own and x.state in LIVE and not x.gone]
        for mover in movers:
            consult.legs.remove(mover)
            mover.call = call
            call.legs.append(mover)
        self.telephony.set_leg(leg, P.ACTIVE)
        call.call_type = "CONFERENCE"
        call.controller = call.controller or agent
        call.associated = None
        consult.associated = None
        self.publisher.touch_call(call)
        self.telephony.remove_leg(own)
        self.telephony.end_call(consult)
        for other in agents_of(call):
            self.desk.update_agent(other)
        self.telephony.set_call_state(call)

    def _do_transfer_sst(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        """Single-step (blind) transfer: the agent leaves, the call goes on to toAddress."""
        to = req.to_address
        require(to, "toAddress")
        if to == agent.extension:
            raise finesse_error(
                400, "Invalid Destination", "Cannot transfer to own extension", "toAddress"
            )
        if not DIALABLE.match(to):
            raise finesse_error(400, "Invalid Destination", "Invalid destination", "toAddress")
        target = self.records.device_agent(to)
        if target is not None and target.live_legs():
            raise finesse_error(400, "Invalid Destination", "Destination is busy", "toAddress")
        self.telephony.set_leg(leg, P.DROPPED)
        self.phones.send(leg.phone, "ended", callId=call.id)
        self.publisher.flush()
        self.telephony.leave(leg)
        call.call_type = "TRANSFER"
        call.to_address = to
        self.telephony.deliver(call, to)
        self.telephony.set_call_state(call)

    def _do_send_dtmf(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        digits = req.action_params.get("dtmfString", "")
        require(digits, "dtmfString")
        if not set(digits) <= DTMF_DIGITS[self.records.config.deployment]:
            raise finesse_error(400, "Invalid Input", "Invalid DTMF digits", "dtmfString")
        for other in call.legs:
            if other is not leg and other.state in CONNECTED:
                self.phones.send(other.phone, "dtmf", callId=call.id, digits=digits)
        self.publisher.touch_call(call, force=True)

    def _do_update_call_data(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        media = req.media_properties
        if media is None:
            raise finesse_error(
                400, "Parameter Missing", "mediaProperties is required", "mediaProperties"
            )
        if len(media.wrap_up_reason.encode()) > WRAP_UP_REASON_MAX:
            raise finesse_error(400, "Invalid Input", "wrapUpReason is too long", "wrapUpReason")
        merged = dict(call.variables)
        merged.update(media.call_variables)
        check_variables(merged)
        call.variables = merged
        if media.wrap_up_reason:
            call.wrap_up_reason = media.wrap_up_reason
        self.publisher.touch_call(call, force=True)
