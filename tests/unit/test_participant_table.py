"""docs/finesse.md, Dialogs and their actions: participant states, the actions offered in each, and
the CTI event -> dialog mapping, checked on real dialogs the ContactCenter reaches.

Each participant-table row drives a call until agent A's participant is in the row's state,
then compares the `actions` it shows with the table (plus the configured extras on ACTIVE).
Every action the participant does not offer must be refused with Invalid State. The pure
`participant_actions` function is checked over the table at the end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from connector.finesse.models import (
    Action,
    ApiErrorException,
    Dialog,
    MediaProperties,
    Participant,
    Update,
    dialog_uri,
    dialogs_uri,
)
from finesse_sim.config import default_config
from finesse_sim.model.participant_actions import participant_actions
from tests.unit.conftest import World, config, make_world

A, EXT = "1001", "5001"  # the agent under test and its desk extension
MOBILE = "+15551230001"  # A's mobile phone (CALL_BY_CALL)
B, EXT_B = "1002", "5002"  # another agent
CALLER = "+15550100"  # a customer
OUTSIDE = "+15559990000"  # an outside number (answers after Timers.external_answer)
QUEUE_DN = "8000"
ANSWER_SECONDS = default_config().timers.external_answer
# past the first CTI hop (Timers.network, 0.02 s), well before an outside phone answers
DIAL_SECONDS = 0.05
EXTRAS = tuple(default_config().active_extra_actions)  # TRANSFER_SST, SEND_DTMF

# docs/finesse.md, Dialogs and their actions: actions offered per participant state.
INITIATING = ("DROP", "UPDATE_CALL_DATA")
INITIATED = ("DROP", "UPDATE_CALL_DATA")
ALERTING = ("ANSWER",)
ACTIVE = ("HOLD", "DROP", "UPDATE_CALL_DATA", "CONSULT_CALL")
FAILED = ("DROP",)
HELD = ("RETRIEVE", "DROP", "UPDATE_CALL_DATA")
HELD_WITH_OTHER_ACTIVE = (*HELD, "TRANSFER", "CONFERENCE")
DROPPED: tuple[str, ...] = ()
WRAP_UP = ("UPDATE_CALL_DATA",)


def place_call(world: World, to: str) -> None:
    world.make_call(A, to)


def dialogs_of(update: Update) -> list[Dialog]:
    return update.data if isinstance(update.data, list) else [update.data]


def published(world: World, dialog_id: str) -> list[tuple[str, Dialog]]:
    """(event, dialog) of every notification about `dialog_id` on A's Dialogs node."""
    out = []
    for update in world.updates(dialogs_uri(A)):
        out += [(update.event, d) for d in dialogs_of(update) if d.id == dialog_id]
    return out


def only_dialog(world: World) -> str:
    [dialog] = world.dialogs(A)
    return dialog.id


# -- drivers: each leaves A's participant in one state and returns the dialog id -------------


def initiating_call_by_call(world: World) -> str:
    """A CALL_BY_CALL mobile agent places a call: its own phone rings first (docs/finesse.md,
    Mobile agents), and until it answers, A's participant is INITIATING."""
    world.login(A, mobile=("CALL_BY_CALL", MOBILE))
    place_call(world, OUTSIDE)
    world.advance(ANSWER_SECONDS + 0.5)  # nothing moves until the mobile phone answers
    assert world.phone_events(MOBILE) == ["ring"]
    return only_dialog(world)


def initiated(world: World) -> str:
    """Past the first network hop, before the outside phone answers."""
    world.login(A)
    place_call(world, OUTSIDE)
    world.advance(DIAL_SECONDS)
    return only_dialog(world)


def alerting(world: World) -> str:
    world.login(A)
    world.ready(A)
    return world.cc.inject_call(QUEUE_DN, CALLER)


def active(world: World) -> str:
    dialog_id = alerting(world)
    world.cc.phone_answer(EXT)
    return dialog_id


def failed_busy(world: World) -> str:
    """A calls agent B's extension while B is on a call."""
    world.login(B)
    world.ready(B)
    world.cc.inject_call(QUEUE_DN, CALLER)
    world.cc.phone_answer(EXT_B)
    world.login(A)
    place_call(world, EXT_B)
    world.advance(DIAL_SECONDS)
    return only_dialog(world)


def failed_bad_destination(world: World) -> str:
    world.login(A)
    place_call(world, "abc")
    world.advance(DIAL_SECONDS)
    return only_dialog(world)


def held(world: World) -> str:
    dialog_id = active(world)
    world.act(A, dialog_id, "HOLD")
    return dialog_id


def held_with_active_consult(world: World) -> str:
    dialog_id = active(world)
    world.act(A, dialog_id, "CONSULT_CALL", to_address=OUTSIDE)
    world.advance(ANSWER_SECONDS + 0.1)
    consult = next(d for d in world.dialogs(A) if d.id != dialog_id)
    assert consult.participant(EXT).state == "ACTIVE"
    return dialog_id


def wrap_up(world: World) -> str:
    dialog_id = active(world)  # wrapUpOnIncoming is REQUIRED in the default roster
    world.cc.hangup_call(dialog_id)
    return dialog_id


# -- participants that exist only in a notification ------------------------------------------


def initiating_desk_post(world: World) -> Participant | None:
    """A desk agent's MAKE_CALL: the dialog POST shows A INITIATING (BEGIN_CALL_EVENT)."""
    world.login(A)
    world.clear()
    place_call(world, OUTSIDE)
    [(event, dialog)] = published(world, only_dialog(world))
    assert event == "POST"
    return dialog.participant(EXT)


def caller_dropped(world: World) -> Participant | None:
    """The customer hangs up: the PUT before the end shows it DROPPED, A still ACTIVE."""
    dialog_id = active(world)
    world.clear()
    world.cc.hangup_call(dialog_id)
    event, dialog = published(world, dialog_id)[0]
    assert (event, dialog.state, dialog.participant(EXT).state) == ("PUT", "ACTIVE", "ACTIVE")
    return dialog.participant(CALLER)


def agent_dropped(world: World) -> Participant | None:
    """The call ends: a PUT shows every participant, A included, DROPPED."""
    dialog_id = active(world)
    world.clear()
    world.cc.hangup_call(dialog_id)
    event, dialog = published(world, dialog_id)[1]
    assert (event, dialog.state) == ("PUT", "DROPPED")
    return dialog.participant(EXT)


# -- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    state: str
    expected: tuple[str, ...]
    live: Callable[[World], str] | None = None  # reach a live dialog: A's participant
    seen: Callable[[World], Participant | None] | None = None  # or a participant in a notification
    cause: str = ""  # stateCause
    settings: dict[str, Any] = field(default_factory=dict)


ROWS = [
    Row("INITIATING:call-by-call", "INITIATING", INITIATING, live=initiating_call_by_call),
    Row("INITIATING:desk-make-call-POST", "INITIATING", INITIATING, seen=initiating_desk_post),
    Row("INITIATED:make-call-dialing", "INITIATED", INITIATED, live=initiated),
    Row("ALERTING:routed-call-ringing", "ALERTING", ALERTING, live=alerting),
    Row("ACTIVE:answered", "ACTIVE", (*ACTIVE, *EXTRAS), live=active),
    Row(
        "ACTIVE:answered-no-extras-configured",
        "ACTIVE",
        ACTIVE,
        live=active,
        settings={"active_extra_actions": []},
    ),
    Row("FAILED:BUSY", "FAILED", FAILED, live=failed_busy, cause="BUSY"),
    Row(
        "FAILED:BAD_DESTINATION",
        "FAILED",
        FAILED,
        live=failed_bad_destination,
        cause="BAD_DESTINATION",
    ),
    Row("HELD:alone", "HELD", HELD, live=held),
    Row("HELD:with-active-consult", "HELD", HELD_WITH_OTHER_ACTIVE, live=held_with_active_consult),
    Row("DROPPED:caller-hung-up", "DROPPED", DROPPED, seen=caller_dropped),
    Row("DROPPED:agent-at-call-end", "DROPPED", DROPPED, seen=agent_dropped),
    Row("WRAP_UP:after-the-call", "WRAP_UP", WRAP_UP, live=wrap_up),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.id)
def test_participant_actions_in_a_real_dialog(row: Row) -> None:
    world = make_world(config(**row.settings))
    if row.live is not None:
        dialog_id = row.live(world)
        participant = world.participant(A, dialog_id, EXT)
        # What the client was last told matches what the REST GET shows.
        _, last = published(world, dialog_id)[-1]
        assert last.participant(EXT) == participant
    else:
        assert row.seen is not None
        participant = row.seen(world)
    assert participant is not None
    assert (participant.state, participant.state_cause) == (row.state, row.cause)
    assert sorted(participant.actions) == sorted(row.expected)
    assert len(set(participant.actions)) == len(participant.actions), "an action is repeated"


def test_every_state_of_the_finesse_md_table_has_a_row() -> None:
    """All rows of the 2.2 table but ACCEPTED (Outbound Option preview, not simulated)."""
    table = {
        "INITIATING",
        "INITIATED",
        "ALERTING",
        "ACTIVE",
        "FAILED",
        "HELD",
        "DROPPED",
        "WRAP_UP",
    }
    assert table <= {row.state for row in ROWS}


# -- actions not offered are refused ---------------------------------------------------------

# A plausible body for each action, so that only the participant's state can be the reason
# for a refusal.
REQUEST: dict[str, dict[str, Any]] = {
    "CONSULT_CALL": {"to_address": OUTSIDE},
    "TRANSFER_SST": {"to_address": OUTSIDE},
    "SEND_DTMF": {"action_params": {"dtmfString": "12#"}},
    "UPDATE_CALL_DATA": {"media_properties": MediaProperties(wrap_up_reason="Resolved")},
}
DIALOG_ACTIONS = [a.value for a in Action if a != Action.MAKE_CALL]
OFFERED: list[tuple[str, str, Callable[[World], str], tuple[str, ...]]] = [
    # (row id, participant state, driver, actions offered)
    ("INITIATING", "INITIATING", initiating_call_by_call, INITIATING),
    ("INITIATED", "INITIATED", initiated, INITIATED),
    ("ALERTING", "ALERTING", alerting, ALERTING),
    ("ACTIVE", "ACTIVE", active, (*ACTIVE, *EXTRAS)),
    ("FAILED", "FAILED", failed_busy, FAILED),
    ("HELD", "HELD", held, HELD),
    ("HELD+consult", "HELD", held_with_active_consult, HELD_WITH_OTHER_ACTIVE),
    ("WRAP_UP", "WRAP_UP", wrap_up, WRAP_UP),
]
REFUSED = [
    pytest.param(state, driver, action, id=f"{name}-{action}")
    for name, state, driver, offered in OFFERED
    for action in DIALOG_ACTIONS
    if action not in offered
]


@pytest.mark.parametrize(("state", "driver", "action"), REFUSED)
def test_action_not_offered_is_invalid_state(
    state: str, driver: Callable[[World], str], action: str
) -> None:
    world = make_world()
    dialog_id = driver(world)
    before = world.cc.dialog(world.cc.agents[A], dialog_id)
    assert before.participant(EXT).state == state
    user_before = world.user(A)
    world.clear()
    with pytest.raises(ApiErrorException) as err:
        world.act(A, dialog_id, action, **REQUEST.get(action, {}))
    # DG125 p108: DTMF to a HELD participant is a 401 Invalid State.
    status = 401 if (state, action) == ("HELD", "SEND_DTMF") else 400
    assert (err.value.status, err.value.error.error_type) == (status, "Invalid State")
    assert world.cc.dialog(world.cc.agents[A], dialog_id) == before
    assert world.user(A) == user_before
    assert world.notes == [] and world.phones == []


@pytest.mark.parametrize(
    ("driver", "action"),
    [
        (initiated, "DROP"),
        (initiated, "UPDATE_CALL_DATA"),
        (alerting, "ANSWER"),
        (active, "HOLD"),
        (active, "SEND_DTMF"),
        (held, "RETRIEVE"),
        (failed_busy, "DROP"),
        (wrap_up, "UPDATE_CALL_DATA"),
    ],
    ids=lambda v: v if isinstance(v, str) else v.__name__,
)
def test_action_offered_is_accepted(driver: Callable[[World], str], action: str) -> None:
    """The other side of the refusals: an offered action goes through."""
    world = make_world()
    dialog_id = driver(world)
    world.clear()
    world.act(A, dialog_id, action, **REQUEST.get(action, {}), request_id="rq-act")
    # 202: the result arrives as a Dialog notification carrying the request's id.
    assert "rq-act" in {u.request_id for u in world.updates(dialogs_uri(A))}


# -- CTI event -> dialog mapping -------------------------------------------------------------


def states(dialog: Dialog) -> tuple[str, str, str]:
    """(dialog state, caller's participant state, A's participant state)."""
    return (dialog.state, dialog.participant(CALLER).state, dialog.participant(EXT).state)


def test_incoming_call_dialog_notifications_without_wrap_up() -> None:
    """docs/finesse.md, Dialogs and their actions, incoming call to agent A from caller C who hangs
    up."""
    world = make_world(config(wrap_up_on_incoming="NOT_ALLOWED"))
    world.login(A)
    world.ready(A)
    world.clear()
    dialog_id = world.cc.inject_call(QUEUE_DN, CALLER)
    world.cc.phone_answer(EXT)
    world.cc.hangup_call(dialog_id)

    updates = world.updates(dialogs_uri(A))
    assert [u.event for u in updates] == ["POST", "PUT", "PUT", "PUT", "DELETE"]
    post, established, caller_cleared, agent_cleared, end = updates
    # CALL_DELIVERED: POST to A's Dialogs node, in the <dialogs> wrapper.
    assert post.source == dialogs_uri(A) and isinstance(post.data, list)
    [delivered] = post.data
    assert delivered.id == dialog_id
    assert states(delivered) == ("ALERTING", "INITIATED", "ALERTING")
    # CALL_ESTABLISHED, CALL_CONNECTION_CLEARED (C), CALL_CONNECTION_CLEARED (A): PUTs.
    for update in (established, caller_cleared, agent_cleared):
        assert update.source == dialog_uri(dialog_id) and isinstance(update.data, Dialog)
    assert states(established.data) == ("ACTIVE", "ACTIVE", "ACTIVE")
    assert states(caller_cleared.data) == ("ACTIVE", "DROPPED", "ACTIVE")
    assert states(agent_cleared.data) == ("DROPPED", "DROPPED", "DROPPED")
    # END_CALL_EVENT: DELETE on the Dialogs node.
    assert end.source == dialogs_uri(A) and isinstance(end.data, list)
    [ended] = end.data
    assert (ended.id, ended.state) == (dialog_id, "DROPPED")
    assert {p.state for p in ended.participants} == {"DROPPED"}
    assert world.dialogs(A) == []
    # All of it is unsolicited.
    assert {u.request_id for u in updates} == {""}


def test_end_call_delete_still_lists_the_agent_as_dropped() -> None:
    world = make_world(config(wrap_up_on_incoming="NOT_ALLOWED"))
    dialog_id = active(world)
    world.clear()
    world.cc.hangup_call(dialog_id)
    end = world.updates(dialogs_uri(A))[-1]
    assert end.event == "DELETE"
    [ended] = end.data
    me = ended.participant(EXT)
    assert me is not None, "A's participant is missing from the DELETE"
    assert states(ended) == ("DROPPED", "DROPPED", "DROPPED")


def test_incoming_call_with_wrap_up_keeps_the_dialog_until_wrap_up_ends() -> None:
    world = make_world()  # wrapUpOnIncoming REQUIRED
    world.login(A)
    world.ready(A)
    world.clear()
    dialog_id = world.cc.inject_call(QUEUE_DN, CALLER)
    world.cc.phone_answer(EXT)
    world.cc.hangup_call(dialog_id)

    updates = world.updates(dialogs_uri(A))
    assert [u.event for u in updates] == ["POST", "PUT", "PUT", "PUT", "PUT"]
    assert states(updates[3].data) == ("DROPPED", "DROPPED", "DROPPED")
    assert states(updates[4].data) == ("DROPPED", "DROPPED", "WRAP_UP")
    world.clear()
    world.ready(A)  # the agent ends wrap-up
    [end] = world.updates(dialogs_uri(A))
    assert end.event == "DELETE" and [d.id for d in end.data] == [dialog_id]


def test_outgoing_call_dialog_notifications() -> None:
    """docs/finesse.md, Dialogs and their actions, outgoing call from agent A to an outside number
    R."""
    world = make_world()
    world.login(A)
    world.clear()
    place_call(world, OUTSIDE)
    world.advance(ANSWER_SECONDS + 0.1)
    dialog_id = only_dialog(world)

    seen = published(world, dialog_id)
    assert [event for event, _ in seen] == ["POST", "PUT", "PUT", "PUT"]

    def view(d: Dialog) -> tuple[str, str, str | None]:
        far = d.participant(OUTSIDE)
        return (d.state, d.participant(EXT).state, far.state if far else None)

    assert [view(d) for _, d in seen] == [
        ("INITIATING", "INITIATING", None),  # BEGIN_CALL_EVENT: R not yet a participant
        ("INITIATED", "INITIATED", None),  # CALL_ORIGINATED_EVENT
        ("ALERTING", "INITIATED", "ALERTING"),  # CALL_DELIVERED
        ("ACTIVE", "ACTIVE", "ACTIVE"),  # CALL_ESTABLISHED
    ]
    assert world.updates(dialogs_uri(A))[0].request_id == "rq-call"


@pytest.mark.parametrize(
    ("driver", "cause"),
    [(failed_busy, "BUSY"), (failed_bad_destination, "BAD_DESTINATION")],
    ids=["BUSY", "BAD_DESTINATION"],
)
def test_outgoing_call_failed(driver: Callable[[World], str], cause: str) -> None:
    world = make_world()
    dialog_id = driver(world)
    _, last = published(world, dialog_id)[-1]
    assert [p.media_address for p in last.participants] == [EXT]
    assert (last.state, last.participant(EXT).state, last.participant(EXT).state_cause) == (
        "FAILED",
        "FAILED",
        cause,
    )


# -- the pure function -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "kwargs", "expected"),
    [
        pytest.param("INITIATING", {}, INITIATING, id="INITIATING"),
        pytest.param("INITIATED", {}, INITIATED, id="INITIATED"),
        pytest.param("ALERTING", {}, ALERTING, id="ALERTING"),
        pytest.param("ACTIVE", {}, ACTIVE, id="ACTIVE"),
        pytest.param("FAILED", {}, FAILED, id="FAILED"),
        pytest.param("HELD", {}, HELD, id="HELD"),
        pytest.param("DROPPED", {}, DROPPED, id="DROPPED"),
        pytest.param("WRAP_UP", {}, WRAP_UP, id="WRAP_UP"),
        pytest.param("ACCEPTED", {}, (), id="ACCEPTED"),
        pytest.param(
            "HELD", {"other_call_active": True}, HELD_WITH_OTHER_ACTIVE, id="HELD+other-active"
        ),
        pytest.param("ACTIVE", {"active_extras": EXTRAS}, (*ACTIVE, *EXTRAS), id="ACTIVE+extras"),
        pytest.param(
            "ACTIVE",
            {"active_extras": ("DROP", "SEND_DTMF")},
            (*ACTIVE, "SEND_DTMF"),
            id="ACTIVE+extras-not-repeated",
        ),
        pytest.param("HELD", {"active_extras": EXTRAS}, HELD, id="HELD-no-extras"),
        pytest.param(
            "ACTIVE", {"other_call_active": True}, ACTIVE, id="ACTIVE-no-transfer-conference"
        ),
        pytest.param(
            "WRAP_UP",
            {"other_call_active": True, "active_extras": EXTRAS},
            WRAP_UP,
            id="WRAP_UP-nothing-added",
        ),
        # a non-agent participant (the customer) shows the plain table
        pytest.param(
            "ACTIVE",
            {"is_agent": False, "active_extras": EXTRAS},
            ACTIVE,
            id="customer-ACTIVE-no-extras",
        ),
        pytest.param(
            "HELD",
            {"is_agent": False, "other_call_active": True},
            HELD,
            id="customer-HELD-no-transfer",
        ),
        pytest.param("INITIATED", {"is_agent": False}, INITIATED, id="customer-INITIATED"),
        pytest.param("NO_SUCH_STATE", {}, (), id="unknown-state"),
    ],
)
def test_participant_actions_function(
    state: str, kwargs: dict[str, Any], expected: tuple[str, ...]
) -> None:
    actions = participant_actions(state, **kwargs)
    assert sorted(actions) == sorted(expected)
    assert len(set(actions)) == len(actions)
