"""Which actions a participant offers in each state (docs/finesse.md, Dialogs and their actions).

The dialog a client receives lists these per participant, and the simulator accepts a
requested action only when the acting agent's participant offers it: one table serves both,
so what is shown and what is allowed can never drift apart.
"""

from __future__ import annotations

from connector.finesse.models import Action as A
from connector.finesse.models import ParticipantState as P

TABLE: dict[str, tuple[str, ...]] = {
    # CAP-UCCE lists UPDATE_CALL_DATA before DROP for a dialing participant.
    P.INITIATING: (A.UPDATE_CALL_DATA, A.DROP),
    P.INITIATED: (A.UPDATE_CALL_DATA, A.DROP),
    P.ALERTING: (A.ANSWER,),
    P.ACTIVE: (A.HOLD, A.DROP, A.UPDATE_CALL_DATA, A.CONSULT_CALL),
    P.FAILED: (A.DROP,),
    P.HELD: (A.RETRIEVE, A.DROP, A.UPDATE_CALL_DATA),
    P.DROPPED: (),
    P.WRAP_UP: (A.UPDATE_CALL_DATA,),
    P.ACCEPTED: (),
}

# Offered on HELD only while the same agent has another call it is ACTIVE on (a consult).
HELD_WITH_OTHER_ACTIVE: tuple[str, ...] = (A.TRANSFER, A.CONFERENCE)


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
    if state == P.HELD and other_call_active:
        actions += HELD_WITH_OTHER_ACTIVE
    if state == P.ACTIVE:
        actions += [a for a in active_extras if a not in actions]
    return actions
