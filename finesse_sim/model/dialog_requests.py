"""Agents' dialog requests: MAKE_CALL and every `requestedAction` on a Dialog.

A mixin of `ContactCenter`: each request is checked against what the agent's participant
offers (one table, `participant_actions`), then carried out on the telephony side.
"""

from __future__ import annotations

from connector.finesse.models import (
    CALL_VARIABLE_NAMES,
    ECC_PREFIX,
    Action,
    AgentState,
    DialogRequest,
    DialogState,
    MobileAgentMode,
    ParticipantState,
)
from finesse_sim.model.calls import CONNECTED, LIVE, Agent, Call, Leg
from finesse_sim.model.errors import finesse_error, require
from finesse_sim.model.telephony import DIALABLE

S = AgentState
P = ParticipantState
D = DialogState
DTMF_DIGITS = {"UCCE": set("0123456789*#ABCD"), "UCCX": set("0123456789*#")}
BA_VARIABLES = frozenset(
    {
        "BACampaign",
        "BAAccountNumber",
        "BAResponse",
        "BAStatus",
        "BADialedListID",
        "BATimeZone",
        "BABuddyName",
        "BACustomerNumber",
    }
)
CALL_VARIABLE_MAX_BYTES = 40
ECC_MAX_BYTES = 2000
WRAP_UP_REASON_MAX = 40
ALL_ACTIONS = frozenset(a.value for a in Action)
# Real actions of other platforms or features the simulator does not model: CCE answers
# START_RECORDING and the direct-preview ACCEPT/CLOSE/REJECT with 501 (DG125 p123, p126).
NOT_IMPLEMENTED = frozenset({"START_RECORDING", "ACCEPT", "CLOSE", "REJECT"})
NEEDS_TARGET = frozenset(ALL_ACTIONS - {Action.UPDATE_CALL_DATA, Action.MAKE_CALL})


class DialogRequests:
    def make_call(self, agent: Agent, req: DialogRequest, request_id: str = "") -> None:
        """POST /User/{id}/Dialogs with MAKE_CALL."""
        with self._input(request_id):
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
                if self.config.deployment == "UCCX":
                    raise finesse_error(
                        400, "Invalid Input", "mediaProperties not allowed", "mediaProperties"
                    )
                if req.media_properties.wrap_up_reason:
                    raise finesse_error(
                        400, "Invalid Input", "wrapUpReason not allowed", "wrapUpReason"
                    )
                variables = dict(req.media_properties.call_variables)
                self._check_variables(variables)
            callable_from = (
                (S.READY, S.NOT_READY) if self.config.deployment == "UCCE" else (S.NOT_READY,)
            )  # calling from READY is a CCE 12.5 feature
            if agent.state not in callable_from or agent.live_legs():
                raise finesse_error(
                    400, "Invalid State", f"Cannot make a call in state {agent.state}", "state"
                )
            if agent.state == S.READY:
                # CCE 12.5+: calling from READY moves the agent NOT_READY with 50006.
                code = self.config.system_codes.made_call_from_ready
                self._set_state(
                    agent, S.NOT_READY, self._system_code(S.NOT_READY, code, "Made call")
                )
                self._flush()
            call = self._new_call(
                state=D.INITIATING,
                from_address=agent.extension,
                to_address=req.to_address,
                call_type="AGENT_INSIDE" if self._device_agent(req.to_address) else "OUT",
                dialed_number=req.to_address,
                variables=variables,
                outgoing_agent=agent,
            )
            self._originate(call, agent, req.to_address)

    def _originate(self, call: Call, agent: Agent, to_address: str) -> None:
        leg = self._leg(call, agent.extension, P.INITIATING, agent=agent, phone=agent.phone)
        call.dial_target = to_address
        self._update_agent(agent)
        on_a_call = any(x is not leg for x in agent.live_legs())
        if agent.mobile and agent.mobile.mode == MobileAgentMode.CALL_BY_CALL and not on_a_call:
            # Call-by-call outbound: the agent's own phone rings first (MA90); the far end
            # is dialled once the agent answers it (see phone_answer). A consult is placed
            # while the phone is already connected, so it is dialled at once.
            self._phone(leg.phone, "ring", callId=call.id, **{"from": to_address, "to": leg.phone})
            return
        self._after(self.config.timers.network, lambda: self._dial(call))

    def _dial(self, call: Call) -> None:
        if call.ended or not call.dial_target:
            return
        to_address, call.dial_target = call.dial_target, ""
        for leg in call.legs:
            if leg.state == P.INITIATING:
                self._set_leg(leg, P.INITIATED)
        self._set_call_state(call)
        self._flush()
        self._deliver(call, to_address)

    def dialog_action(
        self, agent: Agent, dialog_id: str, req: DialogRequest, request_id: str = ""
    ) -> None:
        """PUT /Dialog/{id} with a requestedAction. Raises ApiErrorException."""
        with self._input(request_id):
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
            call, leg = self._own_call(agent, dialog_id)
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
            if action not in self._actions(leg):
                # DG125 p108: DTMF on a HELD participant is a 401 Invalid State.
                status = 401 if leg.state == P.HELD and action == Action.SEND_DTMF else 400
                raise finesse_error(
                    status,
                    "Invalid State",
                    f"Action {action} is not allowed in participant state {leg.state}",
                    "requestedAction",
                )
            getattr(self, f"_do_{action.lower()}")(agent, call, leg, req)

    def _do_answer(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        # On a CALL_BY_CALL agent this also connects the ringing handset (UNCONFIRMED how real
        # Mobile Agent treats a desktop answer there).
        self._answer(leg)

    def _do_hold(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        self._set_leg(leg, P.HELD)
        self._phone(leg.phone, "held", callId=call.id)
        self._update_agent(agent)

    def _do_retrieve(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        # Retrieving one call puts the agent's other active call on hold, as the phone does.
        for other in agent.live_legs():
            if other.state == P.ACTIVE:
                self._set_leg(other, P.HELD)
                self._phone(other.phone, "held", callId=other.call.id)
        self._set_leg(leg, P.ACTIVE)
        self._phone(leg.phone, "connected", callId=call.id)
        self._update_agent(agent)

    def _do_drop(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        self._drop_leg(leg)

    def _do_consult_call(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        require(req.to_address, "toAddress")
        if req.to_address == agent.extension:
            raise finesse_error(
                400, "Invalid Destination", "Cannot call own extension", "toAddress"
            )
        self._set_leg(leg, P.HELD)
        self._phone(leg.phone, "held", callId=call.id)
        consult = self._new_call(
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
        self._touch_call(call)
        self._originate(consult, agent, req.to_address)

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
        self._set_leg(leg, P.DROPPED)
        for mover in movers:
            call.legs.remove(mover)
            mover.call = consult
            consult.legs.insert(0, mover)
            if mover.state == P.HELD:
                self._set_leg(mover, P.ACTIVE)
            self._touch_call(consult)
        consult.variables = dict(call.variables)
        consult.call_type = "TRANSFER"
        consult.queue = call.queue
        consult.associated = None
        consult.outgoing_agent = None
        call.associated = None
        self._remove_leg(own)
        self._phone(own.phone, "ended", callId=consult.id)
        self._set_call_state(consult)
        self._end_call(call)
        for other in self._agents_of(consult):
            self._update_agent(other)

    def _do_conference(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        """Consult conference: the consulted party joins the original call."""
        consult, own = self._consult_pair(agent, call)
        movers = [x for x in consult.legs if x is not own and x.state in LIVE and not x.gone]
        for mover in movers:
            consult.legs.remove(mover)
            mover.call = call
            call.legs.append(mover)
        self._set_leg(leg, P.ACTIVE)
        call.call_type = "CONFERENCE"
        call.controller = call.controller or agent
        call.associated = None
        consult.associated = None
        self._touch_call(call)
        self._remove_leg(own)
        self._end_call(consult)
        for other in self._agents_of(call):
            self._update_agent(other)
        self._set_call_state(call)

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
        target = self._device_agent(to)
        if target is not None and target.live_legs():
            raise finesse_error(400, "Invalid Destination", "Destination is busy", "toAddress")
        self._set_leg(leg, P.DROPPED)
        self._phone(leg.phone, "ended", callId=call.id)
        self._flush()
        self._leave(leg)
        call.call_type = "TRANSFER"
        call.to_address = to
        self._deliver(call, to)
        self._set_call_state(call)

    def _do_send_dtmf(self, agent: Agent, call: Call, leg: Leg, req: DialogRequest) -> None:
        digits = req.action_params.get("dtmfString", "")
        require(digits, "dtmfString")
        if not set(digits) <= DTMF_DIGITS[self.config.deployment]:
            raise finesse_error(400, "Invalid Input", "Invalid DTMF digits", "dtmfString")
        for other in call.legs:
            if other is not leg and other.state in CONNECTED:
                self._phone(other.phone, "dtmf", callId=call.id, digits=digits)
        self._touch_call(call, force=True)

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
        self._check_variables(merged)
        call.variables = merged
        if media.wrap_up_reason:
            call.wrap_up_reason = media.wrap_up_reason
        self._touch_call(call, force=True)

    def _check_variables(self, variables: dict[str, str]) -> None:
        ecc = 0
        for name, value in variables.items():
            if name in BA_VARIABLES:
                raise finesse_error(400, "Invalid Input", f"{name} may not be set", name)
            if name in CALL_VARIABLE_NAMES:
                if len(value.encode()) > CALL_VARIABLE_MAX_BYTES:
                    raise finesse_error(
                        400, "Invalid Input", f"{name} is longer than 40 bytes", name
                    )
            elif name.startswith(ECC_PREFIX) and len(name) > len(ECC_PREFIX):
                ecc += len(name.encode()) + len(value.encode())
            else:
                raise finesse_error(400, "Invalid Input", f"Unknown call variable {name}", name)
        if ecc > ECC_MAX_BYTES:
            raise finesse_error(
                400, "Invalid Input", "ECC variables exceed 2000 bytes", "callvariables"
            )
