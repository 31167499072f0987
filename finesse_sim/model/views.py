"""What Finesse shows of the records: the User, the TeamMember and the Dialog.

Pure functions of the configuration and the records of `calls`: the REST queries answer
with them, and the publisher compares them with what each client was last told.
"""

from __future__ import annotations

from connector.finesse.models import (
    CALL_VARIABLE_NAMES,
    ECC_PREFIX,
    Action,
    Dialog,
    MediaProperties,
    Participant,
    ParticipantState,
    TeamMember,
    User,
    UserSettings,
)
from finesse_sim.config import SimConfig
from finesse_sim.model.calls import LIVE, Agent, Call, Leg
from finesse_sim.model.participant_actions import participant_actions

P = ParticipantState
NO_REASON_ID = "-1"  # Finesse's reasonCodeId when the state has no reason code


def user(config: SimConfig, agent: Agent) -> User:
    settings = UserSettings(
        wrap_up_on_incoming=config.wrap_up_on_incoming,
        wrap_up_on_outgoing=config.wrap_up_on_outgoing,
    )
    team = config.team(agent.cfg.team_id)
    return User(
        login_id=agent.id,
        login_name=agent.cfg.login_name,
        first_name=agent.cfg.first_name,
        last_name=agent.cfg.last_name,
        state=agent.state,
        state_change_time=agent.state_change_time,
        pending_state=agent.pending,
        reason_code_id=agent.reason.id if agent.reason else NO_REASON_ID,
        reason_code=agent.reason,
        extension=agent.extension,
        roles=list(agent.cfg.roles),
        settings=settings,
        team_id=agent.cfg.team_id,
        team_name=team.name if team else "",
        mobile_agent=agent.mobile,
    )


def team_member(agent: Agent) -> TeamMember:
    return TeamMember(
        login_id=agent.id,
        first_name=agent.cfg.first_name,
        last_name=agent.cfg.last_name,
        state=agent.state,
        state_change_time=agent.state_change_time,
        pending_state=agent.pending,
        extension=agent.extension,
        reason_code=agent.reason,
    )


def dialog(config: SimConfig, call: Call, keep: Agent | None = None) -> Dialog:
    """The Dialog as Finesse shows it. An agent's participant disappears once its part is
    over, except in the DELETE sent to that agent (`keep`), which shows it DROPPED."""
    participants = []
    kept = next((x for x in reversed(call.legs) if x.agent is keep), None) if keep else None
    for leg in call.legs:
        if leg.gone and leg.agent is not None and leg is not kept:
            continue
        ending = leg is kept
        participants.append(
            Participant(
                media_address=leg.address,
                state=P.DROPPED if ending else leg.state,
                actions=[] if ending else actions(config, leg),
                media_address_type="AGENT_DEVICE" if leg.agent else "",
                start_time=leg.start_time,
                state_cause=leg.state_cause,
                state_change_time=leg.state_change_time,
            )
        )
    variables = {name: call.variables.get(name, "") for name in CALL_VARIABLE_NAMES}
    variables.update((k, v) for k, v in call.variables.items() if k.startswith(ECC_PREFIX))
    queue = call.queue
    return Dialog(
        id=call.id,
        state=call.state,
        from_address=call.from_address,
        to_address=call.to_address,
        associated_dialog_uri=(
            f"/finesse/api/Dialog/{call.associated.id}" if call.associated else ""
        ),
        media_properties=MediaProperties(
            dialed_number=call.dialed_number,
            dnis=call.dnis,
            call_type=call.call_type,
            queue_number=queue.id if queue else "",
            queue_name=queue.name if queue else "",
            wrap_up_reason=call.wrap_up_reason,
            call_variables=variables,
        ),
        participants=participants,
    )


def actions(config: SimConfig, leg: Leg) -> list[str]:
    """The participant's actions: the table of `participant_actions`, narrowed by what the
    agent's line holds."""
    agent, call = leg.agent, leg.call
    # TRANSFER / CONFERENCE: offered on the held call once its own consult is active.
    consult_active = (
        agent is not None
        and call.associated is not None
        and any(
            x.agent is agent and x.state == P.ACTIVE and not x.gone for x in call.associated.legs
        )
    )
    offered = participant_actions(
        leg.state,
        is_agent=agent is not None,
        other_call_active=consult_active,
        active_extras=config.active_extra_actions,
    )
    if agent is not None and Action.CONSULT_CALL in offered:
        # An agent line holds two calls, and only a conference's controller may extend
        # it (DG125 p110).
        busy = any(x is not leg and x.state in LIVE and not x.gone for x in agent.legs)
        if busy or call.controller not in (None, agent):
            offered.remove(Action.CONSULT_CALL)
    return offered
