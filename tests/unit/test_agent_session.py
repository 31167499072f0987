"""The connector's agent session: Finesse Updates in, mobile events out, no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.errors import AgentError, Refusal
from connector.finesse import codec
from connector.finesse.models import Dialog, DialogRequest, Participant, Update, User
from connector.session.agent_session import AgentSession
from tests.unit.conftest import World, make_world

GOLDEN = Path(__file__).parents[1] / "golden"


def golden_update(name: str) -> Update:
    return codec.parse_update((GOLDEN / name).read_bytes())


def session(call_control: bool = True) -> AgentSession:
    return AgentSession("1001", "5001", call_control=call_control)


def test_golden_incoming_dialog_becomes_dialog_created_with_call_data():
    s = session()
    [event] = s.apply(golden_update("notification_dialogs_post.xml"))
    assert event.type == "dialog.created"
    data = event.data
    assert (data["id"], data["state"], data["fromAddress"]) == ("53149720", "ALERTING", "335892")
    assert data["callVariables"]["callVariable1"] == "ACME Corp"
    assert data["actions"] == ["ANSWER"]
    assert {p["mediaAddress"] for p in data["participants"]} == {"5001", "335892"}


def test_golden_dialog_put_becomes_dialog_updated_with_request_id():
    s = session()
    s.apply(golden_update("notification_dialogs_post.xml"))
    [event] = s.apply(golden_update("notification_dialog_put.xml"))
    assert event.type == "dialog.updated"
    assert event.data["requestId"] == "req-answer-1"
    assert event.data["state"] == "ACTIVE"


def test_golden_id_less_dtmf_update_does_not_replace_the_dialog():
    s = session()
    s.apply(golden_update("notification_dialogs_post.xml"))
    before = s.dialogs["53149720"]
    assert s.apply(golden_update("notification_dialog_dtmf.xml")) == []
    assert s.dialogs["53149720"] is before


def test_golden_user_notification_becomes_agent_state():
    [event] = session().apply(golden_update("notification_user_uccx.xml"))
    assert event.type == "agent.state"
    assert event.data["requestId"] == "3f2a9c1e-7d4b-4a43-9a55-0c2d1c6b8e10"
    assert event.data["state"]


def test_golden_async_error_becomes_error_event():
    [event] = session().apply(golden_update("notification_api_errors.xml"))
    assert event.type == "error"
    assert event.data["errors"][0]["type"] == "Call Operation Failure"
    assert event.data["source"] == "/finesse/api/Dialog/12345"


def test_unchanged_user_without_request_id_is_not_repeated():
    s = session()
    user = User(login_id="1001", state="READY", extension="5001")
    assert len(s.apply(Update("PUT", "/finesse/api/User/1001", user))) == 1
    assert s.apply(Update("PUT", "/finesse/api/User/1001", user)) == []
    assert len(s.apply(Update("PUT", "/finesse/api/User/1001", user, "r1"))) == 1


# -- the whole call flow, with the simulator's model as the Finesse that publishes ----------


def feed(world: World, s: AgentSession, agent_id: str = "1001") -> list:
    out = []
    for node, update in world.notes:
        if node.startswith(f"/finesse/api/User/{agent_id}"):
            out += s.apply(update)
    world.notes.clear()
    return out


def test_a_call_flow_as_the_app_sees_it():
    world = make_world()
    s = session()
    world.login("1001")
    world.ready("1001")
    assert [e.data["state"] for e in feed(world, s)] == ["NOT_READY", "READY"]
    call_id = world.cc.inject_call("8000", "+15550100", {"callVariable1": "ACC-42"})
    events = feed(world, s)
    assert [e.type for e in events] == ["agent.state", "dialog.created"]
    assert events[1].data["callVariables"]["callVariable1"] == "ACC-42"
    world.cc.phone_answer("5001")
    events = feed(world, s)
    assert ("agent.state", "TALKING") in [(e.type, e.data["state"]) for e in events]
    assert s.actions(s.dialogs[call_id])[:2] == ["HOLD", "DROP"]
    world.cc.hangup_call(call_id)
    events = feed(world, s)
    assert events[-1].type in ("dialog.updated", "agent.state")
    world.ready("1001")
    events = feed(world, s)
    assert [e.type for e in events] == ["agent.state", "dialog.ended"]
    assert s.dialogs == {}


def test_resync_after_a_gap_emits_what_changed():
    world = make_world()
    s = session()
    world.login("1001")
    world.ready("1001")
    feed(world, s)
    call_id = world.cc.inject_call("8000", "+15550100")
    world.notes.clear()  # the notifications of the gap are lost
    agent = world.cc.agents["1001"]
    events = s.resync(world.cc.user(agent), world.cc.dialogs(agent))
    assert [(e.type, e.data.get("state")) for e in events] == [
        ("agent.state", "RESERVED"),
        ("dialog.created", "ALERTING"),
    ]
    assert events[1].data["id"] == call_id
    world.cc.hangup_call(call_id)
    world.notes.clear()
    events = s.resync(world.cc.user(agent), world.cc.dialogs(agent))
    assert [e.type for e in events] == ["agent.state", "dialog.ended"]
    assert s.resync(world.cc.user(agent), world.cc.dialogs(agent)) == []


# -- commands -------------------------------------------------------------------------------


def ringing() -> AgentSession:
    s = session()
    s.apply(golden_update("notification_dialogs_post.xml"))
    return s


def test_an_offered_action_becomes_the_finesse_request():
    req = ringing().check_action("53149720", {"action": "ANSWER"})
    assert req == DialogRequest(requested_action="ANSWER", target_media_address="5001")


@pytest.mark.parametrize(
    ("command", "kind"),
    [
        ({"action": "HOLD"}, Refusal.ACTION_NOT_ALLOWED),
        ({"action": "FLY"}, Refusal.INVALID_FIELD),
        ({}, Refusal.MISSING_FIELD),
        ({"action": "MAKE_CALL"}, Refusal.INVALID_FIELD),
    ],
)
def test_a_command_not_allowed_now_is_refused_locally(command, kind):
    with pytest.raises(AgentError) as err:
        ringing().check_action("53149720", command)
    assert err.value.kind is kind


def test_unknown_dialog_is_not_found():
    with pytest.raises(AgentError) as err:
        ringing().check_action("999", {"action": "ANSWER"})
    assert err.value.kind is Refusal.NOT_FOUND


def test_state_only_session_shows_no_actions_and_refuses_call_control():
    s = session(call_control=False)
    [event] = s.apply(golden_update("notification_dialogs_post.xml"))
    assert event.data["actions"] == []
    assert event.data["participants"][0]["actions"]  # what Finesse offers is still shown
    with pytest.raises(AgentError) as err:
        s.check_action("53149720", {"action": "ANSWER"})
    assert err.value.kind is Refusal.CALL_CONTROL_UNAVAILABLE
    with pytest.raises(AgentError):
        s.check_make_call("5002")
    assert s.check_state("NOT_READY", 2) == ("NOT_READY", "2")


def test_consult_dtmf_and_call_data_requests():
    world = make_world()
    s = session()
    world.login("1001")
    world.ready("1001")
    call_id = world.cc.inject_call("8000", "+15550100")
    world.cc.phone_answer("5001")
    feed(world, s)
    req = s.check_action(call_id, {"action": "CONSULT_CALL", "toAddress": "5002"})
    assert (req.requested_action, req.to_address) == ("CONSULT_CALL", "5002")
    with pytest.raises(AgentError):
        s.check_action(call_id, {"action": "CONSULT_CALL"})
    req = s.check_action(call_id, {"action": "SEND_DTMF", "dtmf": "12#"})
    assert req.action_params == {"dtmfString": "12#"}
    req = s.check_action(
        call_id,
        {
            "action": "UPDATE_CALL_DATA",
            "wrapUpReason": "Resolved",
            "callVariables": {"user.x": "1"},
        },
    )
    assert req.media_properties.wrap_up_reason == "Resolved"
    assert req.media_properties.call_variables == {"user.x": "1"}
    with pytest.raises(AgentError):
        s.check_action(call_id, {"action": "UPDATE_CALL_DATA", "callVariables": {"a": 1}})


@pytest.mark.parametrize(
    ("state", "reason", "ok"),
    [
        ("READY", None, True),
        ("NOT_READY", 1, True),
        ("LOGOUT", None, False),
        ("TALKING", None, False),
        ("NOT_READY", "x", False),
        ("NOT_READY", "\u0661\u0662", False),  # digits, but not ASCII ones: not Finesse's
        ("NOT_READY", 1.5, False),
    ],
)
def test_state_commands(state, reason, ok):
    s = session()
    if ok:
        assert s.check_state(state, reason)[0] == state
    else:
        with pytest.raises(AgentError):
            s.check_state(state, reason)


def test_mobile_agent_participant_found_by_dial_number_when_not_by_extension():
    s = AgentSession("1001", "5001", call_control=True, dial_number="+15551230001")
    dialog = Dialog(
        id="7",
        state="ALERTING",
        participants=[
            Participant(media_address="+15551230001", state="ALERTING", actions=["ANSWER"]),
            Participant(media_address="+15550100", state="INITIATED", actions=["DROP"]),
        ],
    )
    [event] = s.apply(Update("POST", "/finesse/api/User/1001/Dialogs", [dialog]))
    assert event.data["actions"] == ["ANSWER"]
