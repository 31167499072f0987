"""Which actions a participant offers in each state (docs/finesse.md, Dialogs and their actions).

The dialog a client receives lists these per participant, and the simulator accepts a
requested action only when the acting agent's participant offers it: one table serves both,
so what is shown and what is allowed can never drift apart.
"""

from __future__ import annotations

from connector.finesse.models import Action, ParticipantState

TABLE: dict[str, tuple[str, ...]] = {
    # CAP-UCCE lists UPDATE_CALL_DATA before DROP for a dialing participant.
    ParticipantState.INITIATING: (Action.UPDATE_CALL_DATA, Action.DROP),
    ParticipantState.INITIATED: (Action.UPDATE_CALL_DATA, Action.DROP),
    ParticipantState.ALERTING: (Action.ANSWER,),
    ParticipantState.ACTIVE: (
        Action.HOLD,
        Action.DROP,
        Action.UPDATE_CALL_DATA,
        Action.CONSULT_CALL,
    ),
    ParticipantState.FAILED: (Action.DROP,),
    ParticipantState.HELD: (Action.RETRIEVE, Action.DROP, Action.UPDATE_CALL_DATA),
    ParticipantState.DROPPED: (),
    ParticipantState.WRAP_UP: (Action.UPDATE_CALL_DATA,),
    ParticipantState.ACCEPTED: (),
}

# Offered on HELD only while the same agent has another call it is ACTIVE on (a consult).
HELD_WITH_OTHER_ACTIVE: tuple[str, ...] = (Action.TRANSFER, Action.CONFERENCE)


def participant_actions(
    state: str,
    *,
    is_agent: bool = True,
    other_call_active: bool = False,
    active_extras: tuple[str, ...] | list[str] = (),
) -> list[str]:
    actions = list(TABLE.get(state, ()))
    if not is_agent:
        return actions
    if state == ParticipantState.HELD and other_call_active:
        actions += HELD_WITH_OTHER_ACTIVE
    if state == ParticipantState.ACTIVE:
        actions += [a for a in active_extras if a not in actions]
    return actions
