"""The simulated Finesse over real sockets: aiohttp REST clients and stock slixmpp clients."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest

from connector.finesse import codec
from connector.finesse.models import DialogRequest, MediaProperties, User
from scenarios.stack.finesse_lab import FinesseLab, Notifications, basic

pytestmark = pytest.mark.integration


@pytest.fixture
async def lab():
    async with FinesseLab() as lab:
        yield lab


async def logged_in(lab: FinesseLab, agent_id: str, ready: bool = False, **kw):
    agent = lab.agent(agent_id)
    await agent.login(**kw)
    await agent.notes.user_state("NOT_READY")
    if ready:
        await agent.ready()
    return agent


async def routed_call(lab: FinesseLab, agent, **variables: str):
    status, body = await lab.control(
        "POST", "/calls", {"dn": "8000", "from": "+15550100", "callVariables": variables}
    )
    assert status == 201, body
    dialog = await agent.notes.dialog_event("POST")
    assert dialog.id == body["callId"]
    return dialog


# -- SystemInfo and authentication ---------------------------------------------------------


async def test_system_info_names_both_nodes_and_the_pubsub_domain(lab: FinesseLab):
    res = await lab.rest("GET", "/finesse/api/SystemInfo")
    assert res.status == 200
    info = codec.parse_system_info(res.text)
    assert info.status == "IN_SERVICE"
    assert info.xmpp_domain == "finesse-a.sim.local"
    assert info.xmpp_pubsub_domain == "pubsub.finesse-a.sim.local"
    assert info.primary_node.xmpp_port == str(lab.sim.sides[0].xmpp_port)


@pytest.mark.parametrize(
    "auth",
    [None, basic("1001", "wrong"), basic("9999", "password"), "Basic !!notbase64", "Bearer x"],
)
async def test_bad_credentials_get_401_api_errors(lab: FinesseLab, auth):
    headers = {"Authorization": auth} if auth else {}
    res = await lab.rest("GET", "/finesse/api/User/1001", headers=headers)
    assert res.status == 401
    assert "<ApiErrors>" in res.text
    assert res.errors()[0].error_type == "Authorization Failure"


async def test_an_agent_cannot_read_another_agent(lab: FinesseLab):
    res = await lab.agent("1001").request("GET", "/finesse/api/User/1002")
    assert res.status == 401
    assert res.errors()[0].error_type == "Invalid Authorization User Specified"


async def test_five_bad_passwords_lock_the_user_out(lab: FinesseLab):
    for _ in range(5):
        res = await lab.rest(
            "GET", "/finesse/api/User/1003", headers={"Authorization": basic("1003", "x")}
        )
        assert res.status == 401
    res = await lab.agent("1003").request("GET", "/finesse/api/User/1003")
    assert res.status == 401
    res = await lab.agent("1004").request("GET", "/finesse/api/User/1004")
    assert res.status == 200


async def sasl_accepts(lab: FinesseLab, agent_id: str, password: str) -> bool:
    """One SASL PLAIN attempt by a stock client (it gives up after one refusal)."""
    side = lab.sim.sides[0]
    notes = Notifications(f"{agent_id}@{side.domain}/probe", password)
    lab.clients.append(notes)
    try:
        return await notes.connect("127.0.0.1", side.xmpp_port)
    finally:
        notes.close()


async def rest_status(lab: FinesseLab, agent_id: str, password: str) -> int:
    auth = {"Authorization": basic(agent_id, password)}
    return (await lab.rest("GET", f"/finesse/api/User/{agent_id}", headers=auth)).status


async def test_five_bad_xmpp_passwords_lock_the_user_out_of_xmpp_and_rest(lab: FinesseLab):
    for _ in range(5):
        assert not await sasl_accepts(lab, "1006", "wrong")
    # Locked: the right password is refused on both doors.
    assert not await sasl_accepts(lab, "1006", "password")
    assert await rest_status(lab, "1006", "password") == 401
    assert await sasl_accepts(lab, "1005", "password")  # nobody else is affected


async def test_xmpp_and_rest_failures_share_one_counter_and_a_success_resets_it(
    lab: FinesseLab,
):
    for _ in range(4):
        assert not await sasl_accepts(lab, "1007", "wrong")
    assert await sasl_accepts(lab, "1007", "password")  # resets the count
    for _ in range(2):
        assert await rest_status(lab, "1007", "wrong") == 401
        assert not await sasl_accepts(lab, "1007", "wrong")
    assert await rest_status(lab, "1007", "password") == 200  # 4 in a row: not locked; resets
    for _ in range(4):
        assert await rest_status(lab, "1007", "wrong") == 401
    assert not await sasl_accepts(lab, "1007", "wrong")  # the fifth in a row, over XMPP
    assert await rest_status(lab, "1007", "password") == 401
    assert not await sasl_accepts(lab, "1007", "password")


# -- login and state ---------------------------------------------------------------------------


async def test_login_answers_202_empty_then_not_ready_with_request_id(lab: FinesseLab):
    agent = lab.agent("1001")
    res, rid = await agent.login()
    assert (res.status, res.text) == (202, "")
    update = await agent.notes.wait_for(lambda n, u: isinstance(u.data, User), "user")
    assert update.request_id == rid
    assert (update.data.state, update.data.extension) == ("NOT_READY", "5001")
    assert update.source == "/finesse/api/User/1001"
    user = await agent.get_user()
    assert user.state == "NOT_READY" and user.uri == "/finesse/api/User/1001"


async def test_login_by_login_name_path(lab: FinesseLab):
    agent = lab.agent("1001")
    name = lab.sim.config.agent("1001").login_name
    res = await agent.request("GET", f"/finesse/api/User/{name}")
    assert res.status == 200 and codec.parse_user(res.text).login_id == "1001"


async def test_unknown_extension_is_an_async_invalid_device(lab: FinesseLab):
    agent = lab.agent("1001")
    res, rid = await agent.login(extension="7777")
    assert res.status == 202
    update = await agent.notes.wait_for(lambda n, u: isinstance(u.data, list), "apiErrors")
    assert update.data[0].error_type == "Invalid Device"
    assert update.request_id == rid


async def test_extension_held_by_another_agent_is_device_busy(lab: FinesseLab):
    await logged_in(lab, "1001")
    other = lab.agent("1002")
    await other.login(extension="5001")
    update = await other.notes.wait_for(lambda n, u: isinstance(u.data, list), "apiErrors")
    assert update.data[0].error_type == "Device Busy"


@pytest.mark.parametrize(
    ("fields", "status", "error_type"),
    [
        ({"state": "TALKING"}, 400, "Invalid Input"),
        ({"state": "DANCING"}, 400, "Invalid Input"),
        ({"state": "NOT_READY"}, 400, "Parameter Missing"),  # reason codes are configured
        ({"state": "NOT_READY", "reason_code_id": "99"}, 400, "Invalid Input"),
        ({"state": "LOGOUT", "reason_code_id": "1"}, 400, "Invalid Input"),  # a NOT_READY code
        ({"reason_code_id": "1"}, 400, "Parameter Missing"),
    ],
)
async def test_state_change_errors_are_synchronous(lab: FinesseLab, fields, status, error_type):
    agent = await logged_in(lab, "1001")
    res = await agent.put_user(**fields)
    assert res.status == status
    assert res.errors()[0].error_type == error_type


async def test_logout_only_from_not_ready_on_ucce(lab: FinesseLab):
    agent = await logged_in(lab, "1001", ready=True)
    res = await agent.put_user(state="LOGOUT", reason_code_id="3")
    assert res.status == 400 and res.errors()[0].error_type == "Invalid State"
    assert (await agent.put_user(state="NOT_READY", reason_code_id="1")).status == 202
    await agent.notes.user_state("NOT_READY")
    assert (await agent.put_user(state="LOGOUT", reason_code_id="3")).status == 202
    user = await agent.notes.user_state("LOGOUT")
    assert user.reason_code_id == "3" and user.extension == ""


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("<User><state>READY</state>", "Bad Request"),
        ("<!DOCTYPE x [<!ENTITY a 'b'>]><User><state>&a;</state></User>", "Bad Request"),
        ("<User><state>READY</state></User>" + " " * 70_000, "Bad Request"),
        ("", "Bad Request"),
        ("<Dialog><requestedAction>ANSWER</requestedAction></Dialog>", "Bad Request"),
    ],
)
async def test_bad_bodies_get_a_clear_400(lab: FinesseLab, body, needle):
    res = await lab.agent("1001").request("PUT", "/finesse/api/User/1001", body)
    assert res.status == 400
    assert res.errors()[0].error_type == needle


async def test_unknown_resource_is_404_api_errors(lab: FinesseLab):
    res = await lab.agent("1001").request("GET", "/finesse/api/Frobnicator/1")
    assert res.status == 404 and res.errors()[0].error_type == "Not Found"


async def test_reason_codes_and_wrap_up_reasons(lab: FinesseLab):
    agent = lab.agent("1001")
    res = await agent.request("GET", "/finesse/api/User/1001/ReasonCodes?category=NOT_READY")
    assert [c.label for c in codec.parse_reason_codes(res.text)] == ["Break", "Lunch"]
    res = await agent.request("GET", "/finesse/api/User/1001/ReasonCodes?category=LOGOUT")
    assert [c.label for c in codec.parse_reason_codes(res.text)] == ["End of shift"]
    res = await agent.request("GET", "/finesse/api/User/1001/ReasonCodes")
    assert res.status == 400 and res.errors()[0].error_type == "Parameter Missing"
    res = await agent.request("GET", "/finesse/api/User/1001/WrapUpReasons")
    assert [w.label for w in codec.parse_wrap_up_reasons(res.text)] == ["Resolved", "Escalated"]
    res = await agent.request("GET", "/finesse/api/Team/1")
    team = codec.parse_team(res.text)
    assert team.name == "Sales" and len(team.users) == 10


# -- calls -------------------------------------------------------------------------------------


async def test_routed_call_answered_on_the_desk_phone(lab: FinesseLab):
    agent = await logged_in(lab, "1001", ready=True)
    dialog = await routed_call(lab, agent, callVariable1="ACC-42", **{"user.tier": "gold"})
    assert dialog.state == "ALERTING"
    assert dialog.media_properties.call_variables["callVariable1"] == "ACC-42"
    assert dialog.media_properties.call_variables["user.tier"] == "gold"
    assert (
        len([k for k in dialog.media_properties.call_variables if k.startswith("callVariable")])
        == 10
    )
    await agent.notes.user_state("RESERVED")
    status, body = await lab.control("POST", "/phones/5001/answer")
    assert status == 200 and body["callId"] == dialog.id
    await agent.notes.user_state("TALKING")
    active = await agent.notes.dialog_event("PUT", lambda d: d.state == "ACTIVE")
    assert active.participant("5001").actions[:4] == [
        "HOLD",
        "DROP",
        "UPDATE_CALL_DATA",
        "CONSULT_CALL",
    ]
    [listed] = await agent.get_dialogs()
    assert listed.id == dialog.id and listed.state == "ACTIVE"


async def test_answer_hold_retrieve_drop_and_wrap_up_by_rest(lab: FinesseLab):
    agent = await logged_in(lab, "1001", ready=True)
    dialog = await routed_call(lab, agent)
    assert (await agent.dialog_action(dialog.id, "ANSWER")).status == 202
    await agent.notes.user_state("TALKING")
    assert (await agent.dialog_action(dialog.id, "HOLD")).status == 202
    await agent.notes.user_state("HOLD")
    held = await agent.notes.dialog_event("PUT", lambda d: d.participant("5001").state == "HELD")
    assert "RETRIEVE" in held.participant("5001").actions
    assert (await agent.dialog_action(dialog.id, "RETRIEVE")).status == 202
    await agent.notes.user_state("TALKING")
    assert (await agent.dialog_action(dialog.id, "DROP")).status == 202
    await agent.notes.user_state("WORK_READY")
    wrap = await agent.notes.dialog_event("PUT", lambda d: d.participant("5001").state == "WRAP_UP")
    assert wrap.participant("5001").actions == ["UPDATE_CALL_DATA"]
    res = await agent.dialog_action(
        dialog.id, "UPDATE_CALL_DATA", media_properties=MediaProperties(wrap_up_reason="Resolved")
    )
    assert res.status == 202
    updated = await agent.notes.dialog_event(
        "PUT", lambda d: d.media_properties.wrap_up_reason == "Resolved"
    )
    assert updated.id == dialog.id
    await agent.ready()
    deleted = await agent.notes.dialog_event("DELETE")
    assert deleted.id == dialog.id


async def test_dialog_action_errors(lab: FinesseLab):
    agent = await logged_in(lab, "1001", ready=True)
    dialog = await routed_call(lab, agent)
    res = await agent.dialog_action(dialog.id, "HOLD")  # still ringing
    assert res.status == 400 and res.errors()[0].error_type == "Invalid State"
    res = await agent.dialog_action(dialog.id, "FLY")
    assert res.status == 400 and res.errors()[0].error_type == "Invalid Input"
    res = await agent.dialog_action("123", "ANSWER")
    assert res.status == 404
    other = lab.agent("1002")
    res = await other.request("GET", f"/finesse/api/Dialog/{dialog.id}")
    assert res.status == 401


async def test_consult_then_transfer_between_agents(lab: FinesseLab):
    a = await logged_in(lab, "1001", ready=True)
    b = await logged_in(lab, "1002")
    dialog = await routed_call(lab, a, callVariable1="ACC-42")
    await lab.control("POST", "/phones/5001/answer")
    await a.notes.user_state("TALKING")
    assert (await a.dialog_action(dialog.id, "CONSULT_CALL", to_address="5002")).status == 202
    consult = await b.notes.dialog_event("POST")
    assert consult.media_properties.call_type == "CONSULT"
    await lab.control("POST", "/phones/5002/answer")
    await a.notes.dialog_event(
        "PUT", lambda d: d.id == dialog.id and "TRANSFER" in d.participant("5001").actions
    )
    assert (await a.dialog_action(dialog.id, "TRANSFER")).status == 202
    after = await b.notes.dialog_event("PUT", lambda d: d.media_properties.call_type == "TRANSFER")
    assert after.media_properties.call_variables["callVariable1"] == "ACC-42"
    assert {p.media_address for p in after.participants} == {"+15550100", "5002"}
    await a.notes.user_state("WORK_READY")


async def test_consult_then_conference(lab: FinesseLab):
    a = await logged_in(lab, "1001", ready=True)
    b = await logged_in(lab, "1002")
    dialog = await routed_call(lab, a)
    await lab.control("POST", "/phones/5001/answer")
    await a.dialog_action(dialog.id, "CONSULT_CALL", to_address="5002")
    await b.notes.dialog_event("POST")
    await lab.control("POST", "/phones/5002/answer")
    await a.notes.dialog_event("PUT", lambda d: "CONFERENCE" in d.participant("5001").actions)
    assert (await a.dialog_action(dialog.id, "CONFERENCE")).status == 202
    conf = await b.notes.dialog_event("POST", lambda d: d.id == dialog.id)
    assert len(conf.participants) == 3


async def test_single_step_transfer_to_another_agent(lab: FinesseLab):
    a = await logged_in(lab, "1001", ready=True)
    b = await logged_in(lab, "1002")
    dialog = await routed_call(lab, a)
    await lab.control("POST", "/phones/5001/answer")
    assert (await a.dialog_action(dialog.id, "TRANSFER_SST", to_address="5002")).status == 202
    arrived = await b.notes.dialog_event("POST")
    assert arrived.id == dialog.id and arrived.participant("5002").state == "ALERTING"
    await a.notes.user_state("WORK_READY")


async def test_make_call_to_an_outside_number(lab: FinesseLab):
    await lab.control("PUT", "/clock", {"speed": 20})
    agent = await logged_in(lab, "1001")
    body = codec.dialog_request_to_xml(
        DialogRequest(requested_action="MAKE_CALL", from_address="5001", to_address="+15559990000")
    )
    res = await agent.request("POST", "/finesse/api/User/1001/Dialogs", body)
    assert (res.status, res.text) == (202, "")
    posted = await agent.notes.dialog_event("POST")
    assert posted.state == "INITIATING"
    await agent.notes.dialog_event("PUT", lambda d: d.state == "ACTIVE")


async def test_phone_events_websocket(lab: FinesseLab):
    agent = await logged_in(lab, "1001", ready=True)
    assert lab.http is not None
    async with lab.http.ws_connect(lab.url("/sim/v1/phones/5001/events")) as ws:
        assert (await ws.receive_json(timeout=5))["event"] == "subscribed"
        await lab.control("POST", "/calls", {"dn": "8000", "from": "+15550100"})
        ring = await ws.receive_json(timeout=5)
        assert (ring["event"], ring["from"]) == ("ring", "+15550100")
        await lab.control("POST", "/phones/5001/answer")
        assert (await ws.receive_json(timeout=5))["event"] == "connected"
        await lab.control("POST", f"/calls/{ring['callId']}/hangup")
        assert (await ws.receive_json(timeout=5))["event"] == "ended"
    await agent.notes.user_state("WORK_READY")


async def test_mobile_agent_call_by_call(lab: FinesseLab):
    agent = lab.agent("1001")
    await agent.login(mobile=("CALL_BY_CALL", "+15551230001"))
    user = await agent.notes.user_state("NOT_READY")
    assert user.mobile_agent.mode == "CALL_BY_CALL"
    await agent.ready()
    await routed_call(lab, agent)
    status, _ = await lab.control("POST", "/phones/+15551230001/answer")
    assert status == 200
    await agent.notes.user_state("TALKING")


async def test_mobile_agent_missing_dial_number_is_parameter_missing(lab: FinesseLab):
    agent = lab.agent("1001")
    await agent.connect_xmpp()
    body = (
        "<User><state>LOGIN</state><extension>5001</extension>"
        "<mobileAgent><mode>CALL_BY_CALL</mode></mobileAgent></User>"
    )
    res = await agent.request("PUT", "/finesse/api/User/1001", body)
    assert res.status == 400 and res.errors()[0].error_type == "Parameter Missing"


# -- faults, presence, sides -------------------------------------------------------------------


async def test_out_of_service_503_then_republish(lab: FinesseLab):
    agent = await logged_in(lab, "1001", ready=True)
    await lab.control("PUT", "/clock", {"speed": 50})
    status, _ = await lab.control("POST", "/faults", {"kind": "out_of_service", "seconds": 10})
    assert status == 200
    oos = await agent.notes.wait_for(
        lambda n, u: n.endswith("SystemInfo") and u.data.status == "OUT_OF_SERVICE", "OOS"
    )
    assert oos.source == "/finesse/api/SystemInfo"
    res = await agent.request("GET", "/finesse/api/User/1001")
    assert res.status == 503 and res.errors()[0].error_message == "SERVER_OUT_OF_SERVICE"
    assert (await lab.rest("GET", "/finesse/api/SystemInfo")).status == 200
    await lab.control("POST", "/calls", {"dn": "8000"})
    await agent.notes.wait_for(
        lambda n, u: n.endswith("SystemInfo") and u.data.status == "IN_SERVICE", "IN_SERVICE"
    )
    await agent.notes.user_state("RESERVED")
    await agent.notes.dialog_event("POST")


async def test_forced_logout_after_presence_lost(lab: FinesseLab):
    agent = await logged_in(lab, "1001")
    watcher = await logged_in(lab, "1002")
    sub = watcher.notes.xmpp.plugin["xep_0060"]
    await sub.subscribe(f"pubsub.{lab.sim.sides[0].domain}", "/finesse/api/Team/1/Users")
    await lab.control("PUT", "/clock", {"speed": 100})
    agent.notes.close()
    summary = await watcher.notes.wait_for(
        lambda n, u: n.endswith("/Team/1/Users") and u.data.state == "LOGOUT", "team LOGOUT"
    )
    assert summary.data.reason_code.code == "255"


async def test_xmpp_drop_fault_disconnects_clients(lab: FinesseLab):
    agent = await logged_in(lab, "1001")
    await lab.control("POST", "/faults", {"kind": "xmpp_drop"})
    await asyncio.wait_for(agent.notes.disconnected.wait(), 5)


async def test_lose_notifications_fault(lab: FinesseLab):
    agent = await logged_in(lab, "1001")
    await lab.control("POST", "/faults", {"kind": "lose_notifications", "count": 1})
    await agent.put_user(state="READY")
    await agent.put_user(state="NOT_READY", reason_code_id="2")
    user = await agent.notes.wait_for(lambda n, u: isinstance(u.data, User), "user")
    assert user.data.state == "NOT_READY"


async def test_control_api_errors_are_json(lab: FinesseLab):
    assert lab.http is not None
    async with lab.http.post(lab.url("/sim/v1/calls"), data=b"{nope") as r:
        assert r.status == 400 and (await r.json())["error"]["type"] == "invalid_json"
    status, body = await lab.control("POST", "/calls", {})
    assert status == 400 and body["error"]["field"] == "dn"
    status, body = await lab.control("POST", "/faults", {"kind": "meteor"})
    assert status == 400
    status, body = await lab.control("POST", "/phones/5999/answer")
    assert status == 404
    status, body = await lab.control(
        "POST", "/calls", {"dn": "8000", "callVariables": {"BAStatus": "x"}}
    )
    assert status == 400


async def test_reset_logs_everyone_out(lab: FinesseLab):
    agent = await logged_in(lab, "1001", ready=True)
    await lab.control("POST", "/calls", {"dn": "8000"})
    status, _ = await lab.control("POST", "/reset")
    assert status == 200
    assert (await agent.get_user()).state == "LOGOUT"
    _, body = await lab.control("GET", "/queues")
    assert body["queues"][0]["callsInQueue"] == 0


async def test_base64_header_with_colon_in_password():
    assert base64.b64decode(basic("a", "b:c")[6:]) == b"a:b:c"


async def test_mobile_agent_nailed_connection(lab: FinesseLab):
    agent = lab.agent("1002")
    assert lab.http is not None
    async with lab.http.ws_connect(lab.url("/sim/v1/phones/+15551230002/events")) as ws:
        assert (await ws.receive_json(timeout=5))["event"] == "subscribed"
        _, rid = await agent.login(mobile=("NAILED_CONNECTION", "+15551230002"))
        assert (await ws.receive_json(timeout=5))["event"] == "ring"  # the setup call
        status, _ = await lab.control("POST", "/phones/+15551230002/answer")
        assert status == 200
        assert (await ws.receive_json(timeout=5))["event"] == "connected"
        update = await agent.notes.wait_for(
            lambda n, u: isinstance(u.data, User) and u.data.state == "NOT_READY", "login"
        )
        assert update.request_id == rid  # the login completes when the setup call is answered
        assert update.data.mobile_agent.mode == "NAILED_CONNECTION"
        await agent.ready()
        dialog = await routed_call(lab, agent)
        assert (await agent.dialog_action(dialog.id, "ANSWER")).status == 202
        await agent.notes.user_state("TALKING")


async def test_an_internal_failure_still_answers_in_finesse_shape(lab: FinesseLab, monkeypatch):
    def broken(agent):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(lab.sim.model, "user", broken)
    res = await lab.agent("1001").request("GET", "/finesse/api/User/1001")
    assert res.status == 500
    assert res.errors()[0].error_message == "RUNTIME_EXCEPTION"
    assert "Traceback" not in res.text


async def test_a_body_that_is_not_xml_is_415(lab: FinesseLab):
    headers = {"Authorization": basic("1001", "password"), "Content-Type": "text/plain"}
    res = await lab.rest("PUT", "/finesse/api/User/1001", "<User/>", headers)
    assert res.status == 415 and "<ApiErrors>" in res.text


async def test_a_wrong_method_is_405_and_an_unknown_path_404(lab: FinesseLab):
    res = await lab.agent("1001").request("DELETE", "/finesse/api/User/1001")
    assert res.status == 405 and res.errors()[0].error_type == "Method Not Allowed"
    res = await lab.agent("1001").request("GET", "/finesse/api/User/1001/Nothing")
    assert res.status == 404


async def test_non_ascii_basic_credentials_are_401(lab: FinesseLab):
    res = await lab.rest("GET", "/finesse/api/User/1001", headers={"Authorization": "Basic é"})
    assert res.status == 401 and res.errors()[0].error_type == "Authorization Failure"


async def test_xmpp_login_takes_the_agent_id_not_the_login_name(lab: FinesseLab):
    from scenarios.stack.finesse_lab import Notifications

    name = lab.sim.config.agent("1001").login_name
    notes = Notifications(f"{name}@{lab.sim.sides[0].domain}/x", "password")
    lab.clients.append(notes)
    assert await notes.connect("127.0.0.1", lab.sim.sides[0].xmpp_port) is False


async def test_clock_speed_is_bounded(lab: FinesseLab):
    status, body = await lab.control("PUT", "/clock", {"speed": 1e12})
    assert status == 400 and body["error"]["field"] == "speed"
    status, body = await lab.control("PUT", "/clock", {"speed": 50})
    assert status == 200 and body["speed"] == 50


async def test_unimplemented_dialog_actions_are_501(lab: FinesseLab):
    agent = await logged_in(lab, "1001", ready=True)
    dialog = await routed_call(lab, agent)
    res = await agent.dialog_action(dialog.id, "START_RECORDING")
    assert res.status == 501 and res.errors()[0].error_type == "Not Implemented"


async def test_reset_tells_clients_their_dialogs_and_sessions_are_gone(lab: FinesseLab):
    agent = await logged_in(lab, "1001", ready=True)
    dialog = await routed_call(lab, agent)
    await lab.control("POST", "/reset")
    deleted = await agent.notes.dialog_event("DELETE")
    assert deleted.id == dialog.id
    await agent.notes.user_state("LOGOUT")


async def test_many_agents_change_state_in_one_control_request_each_as_its_own_put(lab):
    first, second = await logged_in(lab, "1001"), await logged_in(lab, "1002")
    before = time.monotonic()
    status, body = await lab.control(
        "POST",
        "/agents/state",
        {"agents": ["1001", "1002", "1003", "9999"], "state": "READY"},
    )
    assert status == 200
    ok, ok2, logged_out, unknown = body["results"]
    assert (ok["id"], ok["status"], ok2["status"]) == ("1001", 202, 202)
    assert before <= ok["monotonic"] <= ok2["monotonic"] <= time.monotonic()
    # what 1003's own PUT would get: it is not logged in
    assert logged_out["status"] == 400 and logged_out["error"]["type"] == "Invalid State"
    assert unknown == {"id": "9999", "status": 404, "error": unknown["error"]}
    for agent in (first, second):
        await agent.notes.user_state("READY")
    status, body = await lab.control(
        "POST", "/agents/state", {"agents": ["1001"], "state": "NOT_READY"}
    )
    [refused] = body["results"]  # reason codes are configured: NOT_READY needs one
    assert refused["status"] == 400 and refused["error"]["type"] == "Parameter Missing"
    status, body = await lab.control(
        "POST", "/agents/state", {"agents": ["1001"], "state": "NOT_READY", "reasonCodeId": "1"}
    )
    assert body["results"][0]["status"] == 202
    user = await first.notes.user_state("NOT_READY")
    assert user.reason_code is not None and user.reason_code.id == "1"


async def test_bulk_state_changes_refuse_a_malformed_list(lab):
    for agents in (None, [], ["1001", 7], "1001", ["1"] * 1001):
        status, body = await lab.control(
            "POST", "/agents/state", {"agents": agents, "state": "READY"}
        )
        assert status == 400 and body["error"]["field"] == "agents", agents
    status, body = await lab.control("POST", "/agents/state", {"agents": ["1001"]})
    assert status == 400 and body["error"]["field"] == "state"
