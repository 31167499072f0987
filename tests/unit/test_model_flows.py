"""Call flows through the contact-centre model, without a network."""

from __future__ import annotations

import pytest

from connector.finesse.models import ApiErrorException, DialogRequest, MediaProperties, User
from tests.unit.conftest import World, config, make_world


def incoming(world: World, agent_id: str = "1001", **vars_: str) -> str:
    """Log agent in, make it READY, route a customer call to it; returns the dialog id."""
    world.login(agent_id)
    world.ready(agent_id)
    return world.cc.inject_call("8000", "+15550100", vars_ or None)


def consulting(world: World) -> str:
    """1001 talks to a customer and consults 1002 (NOT_READY), who answers; the customer's
    dialog id."""
    world.login("1002")
    dialog_id = incoming(world)
    world.cc.phone_answer("5001")
    world.act("1001", dialog_id, "CONSULT_CALL", to_address="5002")
    world.advance(0.1)
    world.cc.phone_answer("5002")
    return dialog_id


def test_login_lands_in_not_ready_with_request_id(world: World):
    world.login("1001")
    user = world.user("1001")
    assert (user.state, user.extension, user.reason_code_id) == ("NOT_READY", "5001", "-1")
    [update] = world.updates("/User/1001")
    assert update.event == "PUT" and update.request_id == "rq-login"


def test_login_with_unknown_extension_is_an_async_invalid_device(world: World):
    world.login("1001", ext="7777")
    [update] = world.updates("/User/1001")
    assert update.data[0].error_type == "Invalid Device"
    assert update.request_id == "rq-login"
    assert world.user("1001").state == "LOGOUT"


def test_login_on_a_held_extension_is_device_busy(world: World):
    world.login("1001", ext="5003")
    world.clear()
    world.login("1002", ext="5003")
    [update] = world.updates("/User/1002")
    assert update.data[0].error_type == "Device Busy"


def test_forced_login_keeps_the_current_state(world: World):
    world.login("1001")
    world.ready("1001")
    world.login("1001")
    assert world.user("1001").state == "READY"


def test_routed_call_reserves_then_answer_on_phone_talks(world: World):
    dialog_id = incoming(world, callVariable1="ACC-42")
    assert world.user("1001").state == "RESERVED"
    assert world.dialog_events("1001")[0] == ("POST", "ALERTING")
    me = world.participant("1001", dialog_id, "5001")
    assert (me.state, me.actions) == ("ALERTING", ["ANSWER"])
    assert world.phone_events("5001") == ["ring"]
    world.cc.phone_answer("5001")
    assert world.user("1001").state == "TALKING"
    dialog = world.cc.dialog(world.cc.agents["1001"], dialog_id)
    assert dialog.state == "ACTIVE"
    assert dialog.media_properties.call_variables["callVariable1"] == "ACC-42"
    assert dialog.media_properties.call_type == "ACD_IN"
    assert dialog.media_properties.queue_name == "Sales"


def test_routed_call_is_unsolicited_no_request_id(world: World):
    world.login("1001")
    world.clear()
    world.cc.inject_call("8000", "+15550100")
    world.state("1001", "READY", request_id="rq-ready")
    user_updates = world.updates("/User/1001")
    assert [u.data.state for u in user_updates] == ["READY", "RESERVED"]
    assert [u.request_id for u in user_updates] == ["rq-ready", ""]
    [post] = world.updates("/User/1001/Dialogs")
    assert post.request_id == ""


def test_customer_hangup_then_wrap_up_then_timer_to_ready(world: World):
    dialog_id = incoming(world)
    world.cc.phone_answer("5001")
    world.clear()
    world.cc.hangup_call(dialog_id)
    assert world.user("1001").state == "WORK_READY"
    events = world.dialog_events("1001")
    assert events[0] == ("PUT", "ACTIVE")  # the caller's leg DROPPED first
    assert events[-1] == ("PUT", "DROPPED")
    me = world.participant("1001", dialog_id, "5001")
    assert (me.state, me.actions) == ("WRAP_UP", ["UPDATE_CALL_DATA"])
    world.act(
        "1001",
        dialog_id,
        "UPDATE_CALL_DATA",
        media_properties=MediaProperties(wrap_up_reason="Resolved"),
    )
    assert (
        world.cc.dialog(world.cc.agents["1001"], dialog_id).media_properties.wrap_up_reason
        == "Resolved"
    )
    world.advance(61)
    assert world.user("1001").state == "READY"
    assert world.dialog_events("1001")[-1][0] == "DELETE"
    with pytest.raises(ApiErrorException) as err:
        world.cc.dialog(world.cc.agents["1001"], dialog_id)
    assert err.value.status == 404


def test_agent_ends_wrap_up_by_going_ready(world: World):
    dialog_id = incoming(world)
    world.cc.phone_answer("5001")
    world.act("1001", dialog_id, "DROP")
    assert world.user("1001").state == "WORK_READY"
    world.ready("1001")
    assert world.user("1001").state == "READY"
    assert world.dialogs("1001") == []


def test_pending_state_during_a_call(world: World):
    dialog_id = incoming(world)
    world.cc.phone_answer("5001")
    world.state("1001", "NOT_READY", "2")
    user = world.user("1001")
    assert (user.state, user.pending_state) == ("TALKING", "NOT_READY")
    world.cc.hangup_call(dialog_id)
    assert world.user("1001").state == "WORK"
    world.advance(61)
    user = world.user("1001")
    assert (user.state, user.reason_code_id, user.pending_state) == ("NOT_READY", "2", "")


def test_ring_no_answer_requeues_to_the_next_agent(world: World):
    world.login("1002")
    world.ready("1002")
    dialog_id = incoming(world, "1001")  # 1002 has been available longer
    assert world.user("1002").state == "RESERVED"
    world.advance(16)
    user = world.user("1002")
    assert (user.state, user.reason_code.code) == ("NOT_READY", "32767")
    assert world.user("1001").state == "RESERVED"
    assert world.dialog_events("1002")[-1][0] == "DELETE"
    assert world.cc.dialog(world.cc.agents["1001"], dialog_id).state == "ALERTING"


def test_longest_available_agent_gets_the_call(world: World):
    for a in ("1003", "1001", "1002"):
        world.login(a)
        world.ready(a)
    world.advance(1)
    world.cc.inject_call("8000", "+15550100")
    assert [world.user(a).state for a in ("1003", "1001", "1002")] == ["RESERVED", "READY", "READY"]


def test_call_waits_in_queue_until_an_agent_is_ready(world: World):
    world.login("1001")
    world.cc.inject_call("8000", "+15550100")
    assert world.cc.queue_stats()[0]["callsInQueue"] == 1
    world.ready("1001")
    assert world.user("1001").state == "RESERVED"
    assert world.cc.queue_stats()[0]["callsInQueue"] == 0


def test_hold_and_retrieve(world: World):
    dialog_id = incoming(world)
    world.cc.phone_answer("5001")
    world.act("1001", dialog_id, "HOLD")
    assert world.user("1001").state == "HOLD"
    assert world.participant("1001", dialog_id, "5001").actions == [
        "RETRIEVE",
        "DROP",
        "UPDATE_CALL_DATA",
    ]
    world.act("1001", dialog_id, "RETRIEVE")
    assert world.user("1001").state == "TALKING"


def test_action_not_offered_is_invalid_state(world: World):
    dialog_id = incoming(world)
    with pytest.raises(ApiErrorException) as err:
        world.act("1001", dialog_id, "HOLD")
    assert (err.value.status, err.value.error.error_type) == (400, "Invalid State")


def test_consult_then_transfer(world: World):
    world.login("1002")  # NOT_READY: a consult rings it anyway
    dialog_id = incoming(world, callVariable1="ACC-42")
    world.cc.phone_answer("5001")
    world.act("1001", dialog_id, "CONSULT_CALL", to_address="5002")
    world.advance(0.1)
    [consult] = [d for d in world.dialogs("1002")]
    assert consult.media_properties.call_type == "CONSULT"
    assert consult.state == "ALERTING"
    world.cc.phone_answer("5002")
    held = world.participant("1001", dialog_id, "5001")
    assert held.state == "HELD" and {"TRANSFER", "CONFERENCE"} <= set(held.actions)
    world.act("1001", dialog_id, "TRANSFER")
    assert world.user("1001").state == "WORK_READY"
    [after] = world.dialogs("1002")
    assert after.id == consult.id
    assert {p.media_address for p in after.participants} == {"+15550100", "5002"}
    assert after.media_properties.call_variables["callVariable1"] == "ACC-42"
    assert world.user("1002").state == "TALKING"


def test_consult_then_conference_then_agent_leaves(world: World):
    dialog_id = consulting(world)
    world.act("1001", dialog_id, "CONFERENCE")
    [conf] = world.dialogs("1002")
    assert conf.id == dialog_id
    assert sorted(p.state for p in conf.participants) == ["ACTIVE"] * 3
    world.act("1001", dialog_id, "DROP")
    assert world.user("1001").state == "WORK_READY"
    assert world.user("1002").state == "TALKING"
    assert world.cc.dialog(world.cc.agents["1002"], dialog_id).state == "ACTIVE"


def test_single_step_transfer_to_queue(world: World):
    dialog_id = incoming(world)
    world.cc.phone_answer("5001")
    world.login("1002")
    world.ready("1002")
    world.act("1001", dialog_id, "TRANSFER_SST", to_address="8000")
    assert world.user("1002").state == "RESERVED"
    assert world.user("1001").state == "WORK_READY"


def test_send_dtmf_reaches_the_far_phone(world: World):
    dialog_id = incoming(world)
    world.cc.phone_answer("5001")
    world.act("1001", dialog_id, "SEND_DTMF", action_params={"dtmfString": "12#"})
    assert ("+15550100", "dtmf") in [(n, e["event"]) for n, e in world.phones]
    with pytest.raises(ApiErrorException):
        world.act("1001", dialog_id, "SEND_DTMF", action_params={"dtmfString": "9x"})


def test_make_call_from_ready_moves_to_not_ready_50006(world: World):
    world.login("1001")
    world.ready("1001")
    world.clear()
    agent = world.cc.agents["1001"]
    req = DialogRequest(
        requested_action="MAKE_CALL", from_address="5001", to_address="+15559990000"
    )
    world.cc.make_call(agent, req, "rq-call")
    assert world.user_states("1001")[:2] == ["NOT_READY", "TALKING"]
    assert world.updates("/User/1001")[0].data.reason_code.code == "50006"
    world.advance(2)
    [dialog] = world.dialogs("1001")
    assert dialog.state == "ACTIVE"
    assert world.dialog_events("1001")[0][0] == "POST"


def test_make_call_to_own_extension_is_invalid_destination(world: World):
    world.login("1001")
    req = DialogRequest(requested_action="MAKE_CALL", from_address="5001", to_address="5001")
    with pytest.raises(ApiErrorException) as err:
        world.cc.make_call(world.cc.agents["1001"], req)
    assert err.value.error.error_type == "Invalid Destination"


def test_forced_logout_after_presence_lost_for_60s(world: World):
    world.login("1001")
    world.cc.presence("1001", False)
    world.advance(59)
    assert world.user("1001").state == "NOT_READY"
    world.advance(2)
    user = world.user("1001")
    assert (user.state, user.reason_code.code) == ("LOGOUT", "255")


def test_presence_back_in_time_cancels_forced_logout(world: World):
    world.login("1001")
    world.cc.presence("1001", False)
    world.advance(30)
    world.cc.presence("1001", True)
    world.advance(60)
    assert world.user("1001").state == "NOT_READY"


def test_five_bad_passwords_lock_out_for_five_minutes(world: World):
    for _ in range(5):
        with pytest.raises(ApiErrorException):
            world.cc.authenticate("1001", "wrong")
    with pytest.raises(ApiErrorException):
        world.cc.authenticate("1001", "password")
    world.advance(301)
    assert world.cc.authenticate("1001", "password").id == "1001"


def test_nailed_connection_login_completes_when_setup_call_answered(world: World):
    world.login("1001", mobile=("NAILED_CONNECTION", "+15551230001"))
    assert world.user("1001").state == "LOGOUT"
    assert world.phone_events("+15551230001") == ["ring"]
    world.cc.phone_answer("+15551230001")
    assert world.user("1001").state == "NOT_READY"
    assert world.updates("/User/1001")[-1].request_id == "rq-login"
    world.ready("1001")
    dialog_id = world.cc.inject_call("8000", "+15550100")
    world.act("1001", dialog_id, "ANSWER")
    assert world.user("1001").state == "TALKING"


def test_nailed_connection_rejected_means_no_login(world: World):
    world.login("1001", mobile=("NAILED_CONNECTION", "+15551230001"))
    world.cc.phone_reject("+15551230001")
    user = world.user("1001")
    assert (user.state, user.extension, user.mobile_agent) == ("LOGOUT", "", None)
    assert world.updates("/User/1001")[-1].request_id == "rq-login"


def test_call_by_call_rings_the_dial_number(world: World):
    world.login("1001", mobile=("CALL_BY_CALL", "+15551230001"))
    world.ready("1001")
    dialog_id = world.cc.inject_call("8000", "+15550100")
    assert world.phone_events("+15551230001") == ["ring"]
    assert world.phone_events("5001") == []
    world.cc.phone_answer("+15551230001")
    dialog = world.cc.dialog(world.cc.agents["1001"], dialog_id)
    assert dialog.participant("5001").state == "ACTIVE"  # the LCP DN stands for the agent


def test_out_of_service_suppresses_then_republishes(world: World):
    world.login("1001")
    world.ready("1001")
    world.cc.set_in_service(False)
    world.clear()
    dialog_id = world.cc.inject_call("8000", "+15550100")
    assert world.notes == []
    world.cc.set_in_service(True)
    assert world.user_states("1001") == ["RESERVED"]
    assert world.dialog_events("1001") == [("POST", "ALERTING")]
    assert world.dialogs("1001")[0].id == dialog_id


def test_lose_notifications_drops_exactly_n(world: World):
    world.login("1001")
    world.clear()
    world.cc.notifications_to_lose = 1
    world.ready("1001")
    world.state("1001", "NOT_READY", "1")
    assert world.user_states("1001") == ["NOT_READY"]


def test_agent_drop_shows_every_participant_dropped_in_one_put(world: World):
    world.cc.config.wrap_up_on_incoming = "NOT_ALLOWED"
    dialog_id = incoming(world)
    world.cc.phone_answer("5001")
    world.clear()
    world.act("1001", dialog_id, "DROP")
    updates = world.updates("/User/1001/Dialogs")
    assert [u.event for u in updates] == ["PUT", "DELETE"]
    assert [p.state for p in updates[0].data.participants] == ["DROPPED", "DROPPED"]
    assert updates[0].data.state == "DROPPED"


def test_retrieve_during_a_consult_holds_the_consult_call(world: World):
    dialog_id = consulting(world)
    world.act("1001", dialog_id, "RETRIEVE")
    [consult_id] = [d.id for d in world.dialogs("1002")]
    assert world.participant("1001", dialog_id, "5001").state == "ACTIVE"
    assert world.participant("1001", consult_id, "5001").state == "HELD"
    assert world.user("1001").state == "TALKING"


def test_logout_is_refused_while_a_call_rings(world: World):
    world.login("1001")
    world.cc.inject_call("5001", "+15550100")  # a direct call to the desk phone
    with pytest.raises(ApiErrorException) as err:
        world.state("1001", "LOGOUT", "3")
    assert err.value.error.error_type == "Invalid State"


def test_rejecting_a_direct_call_frees_a_reserved_agent(world: World):
    world.login("1001")
    world.ready("1001")
    world.cc.inject_call("5001", "+15550100")
    assert world.user("1001").state == "RESERVED"
    world.cc.phone_reject("5001")
    assert world.user("1001").state == "READY"
    world.cc.inject_call("8000", "+15550101")
    assert world.user("1001").state == "RESERVED"  # routable again


def conference(world: World) -> str:
    dialog_id = consulting(world)
    world.act("1001", dialog_id, "CONFERENCE")
    return dialog_id


def test_only_the_conference_controller_may_consult_from_it(world: World):
    dialog_id = conference(world)
    assert "CONSULT_CALL" in world.participant("1001", dialog_id, "5001").actions
    assert "CONSULT_CALL" not in world.participant("1002", dialog_id, "5002").actions
    with pytest.raises(ApiErrorException):
        world.act("1002", dialog_id, "CONSULT_CALL", to_address="5003")


def test_a_second_consult_is_not_offered(world: World):
    consulting(world)
    [consult] = world.dialogs("1002")
    assert "CONSULT_CALL" not in world.participant("1001", consult.id, "5001").actions


def test_delete_after_reroute_to_the_same_agent_lists_it_once(world: World):
    world.cc.config.wrap_up_on_incoming = "NOT_ALLOWED"
    dialog_id = incoming(world)
    world.advance(16)  # ring-no-answer: NOT_READY, the call back in the queue
    world.ready("1001")  # routed to 1001 again
    world.cc.phone_answer("5001")
    world.clear()
    world.cc.hangup_call(dialog_id)
    delete = world.updates("/User/1001/Dialogs")[-1]
    assert delete.event == "DELETE"
    mine = [p for p in delete.data[0].participants if p.media_address == "5001"]
    assert [p.state for p in mine] == ["DROPPED"]


def test_relogin_during_a_nailed_setup_call_waits_for_the_same_call(world: World):
    world.login("1001", mobile=("NAILED_CONNECTION", "+15551230001"))
    world.advance(10)
    world.login("1001", mobile=("NAILED_CONNECTION", "+15551230001"))
    assert world.phone_events("+15551230001") == ["ring"]
    world.advance(6)  # the first setup call's timer ends it
    assert world.user("1001").state == "LOGOUT"
    assert world.phone_events("+15551230001") == ["ring", "ended"]


@pytest.mark.parametrize(
    ("deployment", "extension", "ok"),
    [
        ("UCCE", "5001", True),
        ("UCCE", "+15551234567", False),
        ("UCCE", "\u0665\u0660\u0660\u0661", False),  # Arabic-Indic digits
        ("UCCX", "+15551234567", True),
        ("UCCX", "+155512345678901", False),
    ],
)
def test_login_extension_format(deployment, extension, ok):
    world = make_world(config(deployment=deployment))
    world.cc.config.extra_devices.append(extension)
    agent = world.cc.agents["1001"]
    if ok:
        world.cc.put_user(agent, User(state="LOGIN", extension=extension))
        assert world.user("1001").state == "NOT_READY"
    else:
        with pytest.raises(ApiErrorException) as err:
            world.cc.put_user(agent, User(state="LOGIN", extension=extension))
        assert err.value.error.error_data == "extension"


def test_uccx_make_call_from_ready_is_refused():
    world = make_world(config(deployment="UCCX"))
    world.login("1001")
    world.ready("1001")
    with pytest.raises(ApiErrorException) as err:
        world.make_call("1001", "+1555")
    assert err.value.error.error_type == "Invalid State"


def test_uccx_personal_call_has_no_wrap_up():
    world = make_world(config(deployment="UCCX"))
    world.login("1001")
    world.ready("1001")
    world.clear()
    call_id = world.cc.inject_call("5001", "+15550100")  # direct, non-ICD
    assert world.user("1001").state == "READY"
    world.cc.phone_answer("5001")
    world.cc.hangup_call(call_id)
    assert world.dialogs("1001") == []
    assert world.user("1001").state == "READY"
    assert world.user_states("1001") == []  # no User notification at all


def test_call_by_call_consult_dials_at_once_on_the_connected_phone(world: World):
    world.login("1001", mobile=("CALL_BY_CALL", "+15551230001"))
    world.login("1002")
    world.ready("1001")
    dialog_id = world.cc.inject_call("8000", "+15550100")
    world.cc.phone_answer("+15551230001")
    world.act("1001", dialog_id, "CONSULT_CALL", to_address="5002")
    world.advance(0.1)
    assert world.phone_events("+15551230001") == ["ring", "connected", "held"]
    assert world.phone_events("5002") == ["ring"]


def test_a_consulted_agent_does_not_wrap_up_the_internal_call(world: World):
    consulting(world)
    [consult] = world.dialogs("1002")
    world.act("1002", consult.id, "DROP")
    assert world.user("1002").state == "NOT_READY"
    assert world.dialogs("1002") == []
