"""Finesse XML <-> the dataclasses of `connector.finesse.models`.

Writing: Finesse's own shapes (docs/finesse.md: User, Dialogs, Payloads and casing), children in
the alphabetical order
real servers use, PascalCase for REST bodies and the lower-case wrappers (`<user>`,
`<dialogs>`, `<dialog>`, `<apiErrors>`) for XMPP notifications. Output is built as strings
with careful escaping rather than through ElementTree: the simulator writes thousands of
notifications and REST answers a second and string building is several times faster.

Reading: tolerant, as Finesse asks of a client (docs/finesse.md). Child order does not matter,
unknown elements are ignored, both casings seen in the field are accepted (`ReasonCode` and
`reasonCode`, `ApiError` and `apiError`, ...), and namespaces left by an XMPP stanza are
ignored. Every parse accepts a string, bytes or an already parsed Element; strings go
through `safexml.parse_xml`, so all input errors surface as `FinesseXmlError`.

A missing element leaves the dataclass default; a present but empty one gives "".
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from connector.finesse.models import (
    CALL_VARIABLE_NAMES,
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
    UpdateData,
    User,
    UserSettings,
    WrapUpReason,
)
from connector.finesse.safexml import FinesseXmlError, local, parse_xml

__all__ = [
    "FinesseXmlError",
    "XmlSource",
    "api_errors_to_xml",
    "dialog_element",
    "dialog_request_to_xml",
    "dialog_to_xml",
    "dialogs_to_xml",
    "parse_api_errors",
    "parse_dialog",
    "parse_dialog_request",
    "parse_dialogs",
    "parse_reason_code",
    "parse_reason_codes",
    "parse_system_info",
    "parse_team",
    "parse_team_member",
    "parse_update",
    "parse_user",
    "parse_wrap_up_reason",
    "parse_wrap_up_reasons",
    "reason_code_to_xml",
    "reason_codes_to_xml",
    "system_info_to_xml",
    "team_member_to_xml",
    "team_to_xml",
    "update_to_xml",
    "user_request_to_xml",
    "user_to_xml",
    "wrap_up_reason_to_xml",
    "wrap_up_reasons_to_xml",
]

XmlSource = str | bytes | ET.Element

# ---------------------------------------------------------------------------------------
# Writing helpers
# ---------------------------------------------------------------------------------------

# Characters XML 1.0 cannot carry at all. One stray control character in a call variable
# would make the whole XMPP stream invalid and the client would drop the connection, so
# they are removed instead of written.
_INVALID_XML_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CALL_VARIABLE_SET = frozenset(CALL_VARIABLE_NAMES)


def _esc(value: object) -> str:
    """Text content escaped for XML. Non-str values (ints, None) are tolerated."""
    s = value if value.__class__ is str else ("" if value is None else str(value))
    # isprintable() is a fast C check that is True for nearly all real values; only the
    # rare rest (tabs, newlines, control characters) pays for the regex.
    unusual = not s.isprintable()
    if unusual:
        s = _INVALID_XML_CHARS.sub("", s)
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:  # only `]]>` needs it, but escaping all keeps the rule simple
        s = s.replace(">", "&gt;")
    if unusual and "\r" in s:
        # A raw CR would be normalised to LF by the reader; after the '&' pass on purpose.
        s = s.replace("\r", "&#13;")
    return s


def _attr(value: object) -> str:
    """An attribute value for a double-quoted attribute."""
    s = _esc(value)
    return s.replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")


def _leaf(tag: str, value: object) -> str:
    return f"<{tag}>{_esc(value)}</{tag}>"


def _bool(value: bool) -> str:
    return "true" if value else "false"


# ---------------------------------------------------------------------------------------
# Reading helpers
# ---------------------------------------------------------------------------------------


def _root(src: XmlSource) -> ET.Element:
    if isinstance(src, str | bytes | bytearray | memoryview):
        return parse_xml(src)
    if not hasattr(src, "tag"):
        raise FinesseXmlError(f"expected XML text or an Element, got {type(src).__name__}")
    return src


def _kids(el: ET.Element) -> dict[str, ET.Element]:
    """Children by local name (namespace dropped). Comments and PIs are skipped."""
    return {local(c.tag): c for c in el if c.tag.__class__ is str}


def _kids_ci(el: ET.Element) -> dict[str, ET.Element]:
    """Children by lower-cased local name, for elements whose casing varies in the field."""
    return {local(c.tag).lower(): c for c in el if c.tag.__class__ is str}


def _children(el: ET.Element, name: str) -> list[ET.Element]:
    """Children whose local name is `name`, compared case-insensitively."""
    return [c for c in el if c.tag.__class__ is str and local(c.tag).lower() == name]


def _t(el: ET.Element) -> str:
    """Text of a scalar element, trimmed (pretty-printed input must not leak whitespace)."""
    text = el.text
    return text.strip() if text else ""


def _raw(el: ET.Element | None) -> str:
    """Text exactly as sent: call variable values and action params may carry spaces."""
    if el is None:
        return ""
    return el.text or ""


def _texts(kids: dict[str, ET.Element], table: Iterable[tuple[str, str]]) -> dict[str, str]:
    """kwargs for a dataclass: `attr=text` for each (tag, attr) whose element is present."""
    return {attr: _t(kids[tag]) for tag, attr in table if tag in kids}


def _is_true(el: ET.Element) -> bool:
    return _t(el).lower() == "true"


def _name(el: ET.Element) -> str:
    return local(el.tag).lower()


def _expect(el: ET.Element, name: str) -> None:
    """Check the root element's name, ignoring case (`User`/`user`, `ApiErrors`/...)."""
    if _name(el) != name.lower():
        raise FinesseXmlError(f"expected <{name}>, got <{local(el.tag)}>")


def _last_segment(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1] if uri else ""


# ---------------------------------------------------------------------------------------
# ReasonCode / WrapUpReason
# ---------------------------------------------------------------------------------------


def _reason_code_body(code: ReasonCode) -> str:
    return (
        f"{_leaf('category', code.category)}{_leaf('code', code.code)}"
        f"<forAll>{_bool(code.for_all)}</forAll>{_leaf('id', code.id)}"
        f"{_leaf('label', code.label)}<systemCode>{_bool(code.system_code)}</systemCode>"
        f"{_leaf('uri', code.uri)}"
    )


def reason_code_to_xml(code: ReasonCode, *, tag: str = "ReasonCode") -> str:
    """One `<ReasonCode>` (GET /User/{id}/ReasonCode/{rcId}). `tag` allows `reasonCode`."""
    return f"<{tag}>{_reason_code_body(code)}</{tag}>"


def reason_codes_to_xml(codes: list[ReasonCode], category: str) -> str:
    """`<ReasonCodes category="...">` (GET /User/{id}/ReasonCodes?category=...)."""
    body = "".join(f"<ReasonCode>{_reason_code_body(c)}</ReasonCode>" for c in codes)
    return f'<ReasonCodes category="{_attr(category)}">{body}</ReasonCodes>'


_REASON_CODE_TEXT = (("category", "category"), ("code", "code"), ("label", "label"))


def _parse_reason_code_el(el: ET.Element) -> ReasonCode:
    k = _kids(el)
    uri = _t(k["uri"]) if "uri" in k else ""
    # Some samples leave <id> out; the id is then the last segment of the uri.
    rc_id = _t(k["id"]) if "id" in k else _last_segment(uri)
    kw: dict = _texts(k, _REASON_CODE_TEXT)
    if "forAll" in k:
        kw["for_all"] = _is_true(k["forAll"])
    if "systemCode" in k:
        kw["system_code"] = _is_true(k["systemCode"])
    kw.setdefault("category", "")
    kw.setdefault("code", "")
    kw.setdefault("label", "")
    return ReasonCode(id=rc_id, uri=uri, **kw)


def _parse_optional_reason_code(k: dict[str, ET.Element]) -> ReasonCode | None:
    """`reasonCode` (UCCX notifications, Team) or `ReasonCode` (docs); empty -> None."""
    el = k.get("reasonCode")
    if el is None:
        el = k.get("ReasonCode")
    if el is None or len(el) == 0:
        return None
    return _parse_reason_code_el(el)


def parse_reason_code(src: XmlSource) -> ReasonCode:
    root = _root(src)
    _expect(root, "ReasonCode")
    return _parse_reason_code_el(root)


def parse_reason_codes(src: XmlSource) -> list[ReasonCode]:
    """`<ReasonCodes>` list; a lone `<ReasonCode>` gives a list of one."""
    root = _root(src)
    if _name(root) == "reasoncode":
        return [_parse_reason_code_el(root)]
    _expect(root, "ReasonCodes")
    return [_parse_reason_code_el(c) for c in _children(root, "reasoncode")]


def _wrap_up_reason_body(reason: WrapUpReason) -> str:
    return (
        f"<forAll>{_bool(reason.for_all)}</forAll>{_leaf('id', reason.id)}"
        f"{_leaf('label', reason.label)}{_leaf('uri', reason.uri)}"
    )


def wrap_up_reason_to_xml(reason: WrapUpReason) -> str:
    return f"<WrapUpReason>{_wrap_up_reason_body(reason)}</WrapUpReason>"


def wrap_up_reasons_to_xml(reasons: list[WrapUpReason]) -> str:
    body = "".join(f"<WrapUpReason>{_wrap_up_reason_body(r)}</WrapUpReason>" for r in reasons)
    return f"<WrapUpReasons>{body}</WrapUpReasons>"


def _parse_wrap_up_reason_el(el: ET.Element) -> WrapUpReason:
    k = _kids(el)
    uri = _t(k["uri"]) if "uri" in k else ""
    reason = WrapUpReason(
        id=_t(k["id"]) if "id" in k else _last_segment(uri),
        label=_t(k["label"]) if "label" in k else "",
        uri=uri,
    )
    if "forAll" in k:
        reason.for_all = _is_true(k["forAll"])
    return reason


def parse_wrap_up_reason(src: XmlSource) -> WrapUpReason:
    root = _root(src)
    _expect(root, "WrapUpReason")
    return _parse_wrap_up_reason_el(root)


def parse_wrap_up_reasons(src: XmlSource) -> list[WrapUpReason]:
    """`<WrapUpReasons>` list; a lone `<WrapUpReason>` gives a list of one."""
    root = _root(src)
    if _name(root) == "wrapupreason":
        return [_parse_wrap_up_reason_el(root)]
    _expect(root, "WrapUpReasons")
    return [_parse_wrap_up_reason_el(c) for c in _children(root, "wrapupreason")]


# ---------------------------------------------------------------------------------------
# User
# ---------------------------------------------------------------------------------------


def _mobile_agent_xml(ma: MobileAgent, *, skip_empty: bool) -> str:
    mode = "" if skip_empty and not ma.mode else _leaf("mode", ma.mode)
    number = "" if skip_empty and not ma.dial_number else _leaf("dialNumber", ma.dial_number)
    return f"<mobileAgent>{mode}{number}</mobileAgent>"


def _settings_xml(s: UserSettings) -> str:
    device = _leaf("deviceSelection", s.device_selection) if s.device_selection else ""
    return (
        f"<settings>{_leaf('wrapUpOnIncoming', s.wrap_up_on_incoming)}"
        f"{_leaf('wrapUpOnOutgoing', s.wrap_up_on_outgoing)}{device}</settings>"
    )


def user_to_xml(user: User, *, notification: bool = False) -> str:
    """A full User: `<User>` for REST GET, `<user>` inside a notification's `<data>`.

    Children are alphabetical as real servers send them. `mobileAgent` is written only for
    a mobile agent, the reason code only when set (REST `<ReasonCode>`, notification
    `<reasonCode>` as UCCX sends it), and `settings` only when known.
    """
    root, rc_tag = ("user", "reasonCode") if notification else ("User", "ReasonCode")
    rc = user.reason_code
    ma = user.mobile_agent
    roles = "".join(f"<role>{_esc(r)}</role>" for r in user.roles)
    return "".join(
        (
            f"<{root}>",
            _leaf("dialogs", user.dialogs),
            _leaf("extension", user.extension),
            _leaf("firstName", user.first_name),
            _leaf("lastName", user.last_name),
            _leaf("loginId", user.login_id),
            _leaf("loginName", user.login_name),
            _leaf("mediaType", user.media_type),
            "" if ma is None else _mobile_agent_xml(ma, skip_empty=False),
            _leaf("pendingState", user.pending_state),
            "" if rc is None else f"<{rc_tag}>{_reason_code_body(rc)}</{rc_tag}>",
            _leaf("reasonCodeId", user.reason_code_id),
            f"<roles>{roles}</roles>",
            "" if user.settings is None else _settings_xml(user.settings),
            _leaf("state", user.state),
            _leaf("stateChangeTime", user.state_change_time),
            _leaf("teamId", user.team_id),
            _leaf("teamName", user.team_name),
            _leaf("uri", user.uri),
            f"</{root}>",
        )
    )


def user_request_to_xml(user: User) -> str:
    """A `PUT /User/{id}` body: state, extension, reasonCodeId, mobileAgent when non-empty."""
    parts = ["<User>"]
    if user.state:
        parts.append(_leaf("state", user.state))
    if user.extension:
        parts.append(_leaf("extension", user.extension))
    if user.reason_code_id:
        parts.append(_leaf("reasonCodeId", user.reason_code_id))
    if user.mobile_agent is not None:
        parts.append(_mobile_agent_xml(user.mobile_agent, skip_empty=True))
    parts.append("</User>")
    return "".join(parts)


_USER_TEXT = (
    ("dialogs", "dialogs"),
    ("extension", "extension"),
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("loginId", "login_id"),
    ("loginName", "login_name"),
    ("mediaType", "media_type"),
    ("pendingState", "pending_state"),
    ("reasonCodeId", "reason_code_id"),
    ("state", "state"),
    ("stateChangeTime", "state_change_time"),
    ("teamId", "team_id"),
    ("teamName", "team_name"),
    ("uri", "uri"),
)


def _parse_settings(el: ET.Element) -> UserSettings:
    return UserSettings(
        **_texts(
            _kids(el),
            (
                ("wrapUpOnIncoming", "wrap_up_on_incoming"),
                ("wrapUpOnOutgoing", "wrap_up_on_outgoing"),
                ("deviceSelection", "device_selection"),
            ),
        )
    )


def _parse_mobile_agent(el: ET.Element) -> MobileAgent:
    k = _kids(el)
    # A missing mode or dialNumber stays "" so the simulator can answer 400 Parameter Missing.
    return MobileAgent(
        mode=_t(k["mode"]) if "mode" in k else "",
        dial_number=_t(k["dialNumber"]) if "dialNumber" in k else "",
    )


def _parse_user_el(el: ET.Element) -> User:
    k = _kids(el)
    kw: dict = _texts(k, _USER_TEXT)
    kw["reason_code"] = _parse_optional_reason_code(k)
    if "roles" in k:
        kw["roles"] = [_t(r) for r in _children(k["roles"], "role")]
    if "settings" in k:
        kw["settings"] = _parse_settings(k["settings"])
    if "mobileAgent" in k:
        kw["mobile_agent"] = _parse_mobile_agent(k["mobileAgent"])
    return User(**kw)


def parse_user(src: XmlSource) -> User:
    """`<User>` or `<user>`: a full User, or a PUT request body (only a few fields set)."""
    root = _root(src)
    _expect(root, "User")
    return _parse_user_el(root)


# ---------------------------------------------------------------------------------------
# Dialog
# ---------------------------------------------------------------------------------------


def _call_variable(name: str, value: object) -> str:
    return f"<CallVariable><name>{_esc(name)}</name><value>{_esc(value)}</value></CallVariable>"


def _call_variables_xml(variables: dict[str, str], *, all_ten: bool) -> str:
    """`<callvariables>`: in a Dialog all ten callVariableN always (as CAP-UCCE shows), then
    ECC and any other names in insertion order; in a request only what was given."""
    if not all_ten:
        body = "".join(_call_variable(n, v) for n, v in variables.items())
        return f"<callvariables>{body}</callvariables>"
    get = variables.get
    fixed = "".join(_call_variable(n, get(n, "")) for n in CALL_VARIABLE_NAMES)
    extra = "".join(
        _call_variable(n, v) for n, v in variables.items() if n not in _CALL_VARIABLE_SET
    )
    return f"<callvariables>{fixed}{extra}</callvariables>"


def _media_properties_xml(mp: MediaProperties) -> str:
    return (
        f"<mediaProperties>{_leaf('DNIS', mp.dnis)}{_leaf('callType', mp.call_type)}"
        f"{_call_variables_xml(mp.call_variables, all_ten=True)}"
        f"{_leaf('dialedNumber', mp.dialed_number)}{_leaf('mediaId', mp.media_id)}"
        f"{_leaf('queueName', mp.queue_name)}{_leaf('queueNumber', mp.queue_number)}"
        f"{_leaf('wrapUpReason', mp.wrap_up_reason)}</mediaProperties>"
    )


def _participant_xml(p: Participant) -> str:
    actions = "".join(f"<action>{_esc(a)}</action>" for a in p.actions)
    return (
        f"<Participant><actions>{actions}</actions>{_leaf('mediaAddress', p.media_address)}"
        f"{_leaf('mediaAddressType', p.media_address_type)}{_leaf('startTime', p.start_time)}"
        f"{_leaf('state', p.state)}{_leaf('stateCause', p.state_cause)}"
        f"{_leaf('stateChangeTime', p.state_change_time)}</Participant>"
    )


def _dialog_body(d: Dialog) -> str:
    """A Dialog's children, shared by `<Dialog>` and the notification's `<dialog>`."""
    participants = "".join(_participant_xml(p) for p in d.participants)
    return (
        f"{_leaf('associatedDialogUri', d.associated_dialog_uri)}"
        f"{_leaf('fromAddress', d.from_address)}{_leaf('id', d.id)}"
        f"{_media_properties_xml(d.media_properties)}{_leaf('mediaType', d.media_type)}"
        f"<participants>{participants}</participants>{_leaf('secondaryId', d.secondary_id)}"
        f"{_leaf('state', d.state)}{_leaf('toAddress', d.to_address)}{_leaf('uri', d.uri)}"
    )


def dialog_to_xml(dialog: Dialog) -> str:
    """`<Dialog>` (REST GET /Dialog/{id})."""
    return f"<Dialog>{_dialog_body(dialog)}</Dialog>"


def dialog_element(dialog: Dialog) -> ET.Element:
    """The Dialog as an Element, for callers that assemble XML trees themselves."""
    return ET.fromstring(dialog_to_xml(dialog))  # our own output: no need for defusedxml


def dialogs_to_xml(dialogs: list[Dialog], *, notification: bool = False) -> str:
    """`<Dialogs>` (REST) or `<dialogs>` (notification); the items are `<Dialog>` in both."""
    root = "dialogs" if notification else "Dialogs"
    body = "".join(f"<Dialog>{_dialog_body(d)}</Dialog>" for d in dialogs)
    return f"<{root}>{body}</{root}>"


def _parse_call_variables(el: ET.Element, *, strict: bool) -> dict[str, str]:
    """`callvariables/CallVariable{name,value}` in wire order.

    `strict` (client requests): a duplicate or nameless variable is an error, which the
    simulator turns into 400 Invalid Input as Finesse does. Otherwise the last one wins.
    """
    out: dict[str, str] = {}
    for cv in _children(el, "callvariable"):
        k = _kids(cv)
        name = _t(k["name"]) if "name" in k else ""
        if strict:
            if not name:
                raise FinesseXmlError("CallVariable without a name")
            if name in out:
                raise FinesseXmlError(f"duplicate call variable {name!r}")
        elif not name:
            continue
        out[name] = _raw(k.get("value"))
    return out


_MEDIA_TEXT = (
    ("mediaId", "media_id"),
    ("dialedNumber", "dialed_number"),
    ("DNIS", "dnis"),
    ("callType", "call_type"),
    ("queueNumber", "queue_number"),
    ("queueName", "queue_name"),
    ("wrapUpReason", "wrap_up_reason"),
)


def _parse_media_properties(el: ET.Element, *, strict: bool) -> MediaProperties:
    k = _kids(el)
    kw: dict = _texts(k, _MEDIA_TEXT)
    # `callvariables` is lower case on the wire; accept a capitalised one as well.
    cvs = k.get("callvariables")
    if cvs is None:
        cvs = k.get("callVariables")
    if cvs is not None:
        kw["call_variables"] = _parse_call_variables(cvs, strict=strict)
    return MediaProperties(**kw)


_PARTICIPANT_TEXT = (
    ("mediaAddress", "media_address"),
    ("mediaAddressType", "media_address_type"),
    ("startTime", "start_time"),
    ("state", "state"),
    ("stateCause", "state_cause"),
    ("stateChangeTime", "state_change_time"),
)


def _parse_participant(el: ET.Element) -> Participant:
    k = _kids(el)
    kw: dict = _texts(k, _PARTICIPANT_TEXT)
    kw.setdefault("media_address", "")
    kw.setdefault("state", "")
    if "actions" in k:
        kw["actions"] = [_t(a) for a in _children(k["actions"], "action")]
    return Participant(**kw)


_DIALOG_TEXT = (
    ("id", "id"),
    ("state", "state"),
    ("fromAddress", "from_address"),
    ("toAddress", "to_address"),
    ("mediaType", "media_type"),
    ("associatedDialogUri", "associated_dialog_uri"),
    ("secondaryId", "secondary_id"),
    ("uri", "uri"),
)


def _parse_dialog_el(el: ET.Element) -> Dialog:
    k = _kids(el)
    # The notification wrapper may hold a whole <Dialog> instead of its children.
    inner = k.get("Dialog")
    if inner is None:
        inner = k.get("dialog")
    if inner is not None:
        return _parse_dialog_el(inner)
    kw: dict = _texts(k, _DIALOG_TEXT)
    # A DTMF update may come without <id> (docs/finesse.md, Payloads and casing): id stays "" so
    # the caller can tell; it is not guessed from the uri.
    kw.setdefault("id", "")
    if "mediaProperties" in k:
        kw["media_properties"] = _parse_media_properties(k["mediaProperties"], strict=False)
    if "participants" in k:
        kw["participants"] = [
            _parse_participant(p) for p in _children(k["participants"], "participant")
        ]
    return Dialog(**kw)


def parse_dialog(src: XmlSource) -> Dialog:
    """`<Dialog>`, or the notification's `<dialog>` (its children, or a `<Dialog>` in it)."""
    root = _root(src)
    _expect(root, "Dialog")
    return _parse_dialog_el(root)


def parse_dialogs(src: XmlSource) -> list[Dialog]:
    """`<Dialogs>` (REST) or `<dialogs>` (notification)."""
    root = _root(src)
    _expect(root, "Dialogs")
    return [_parse_dialog_el(c) for c in _children(root, "dialog")]


# ---------------------------------------------------------------------------------------
# Dialog requests (POST /User/{id}/Dialogs, PUT /Dialog/{id})
# ---------------------------------------------------------------------------------------


def dialog_request_to_xml(req: DialogRequest) -> str:
    """A dialog request body. Only non-empty parts are written, except that a
    `media_properties` that is set always gives `<mediaProperties>` (its presence matters:
    UCCX refuses any)."""
    parts = ["<Dialog>"]
    if req.requested_action:
        parts.append(_leaf("requestedAction", req.requested_action))
    if req.from_address:
        parts.append(_leaf("fromAddress", req.from_address))
    if req.to_address:
        parts.append(_leaf("toAddress", req.to_address))
    if req.target_media_address:
        parts.append(_leaf("targetMediaAddress", req.target_media_address))
    if req.action_params:
        params = "".join(
            f"<ActionParam><name>{_esc(n)}</name><value>{_esc(v)}</value></ActionParam>"
            for n, v in req.action_params.items()
        )
        parts.append(f"<actionParams>{params}</actionParams>")
    mp = req.media_properties
    if mp is not None:
        parts.append("<mediaProperties>")
        if mp.wrap_up_reason:
            parts.append(_leaf("wrapUpReason", mp.wrap_up_reason))
        if mp.call_variables:
            parts.append(_call_variables_xml(mp.call_variables, all_ten=False))
        parts.append("</mediaProperties>")
    parts.append("</Dialog>")
    return "".join(parts)


def _parse_action_params(el: ET.Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for param in _children(el, "actionparam"):
        k = _kids(param)
        name = _t(k["name"]) if "name" in k else ""
        if name:
            out[name] = _raw(k.get("value"))
    return out


_REQUEST_TEXT = (
    ("requestedAction", "requested_action"),
    ("fromAddress", "from_address"),
    ("toAddress", "to_address"),
    ("targetMediaAddress", "target_media_address"),
)


def parse_dialog_request(src: XmlSource) -> DialogRequest:
    """A dialog request body. A duplicate call variable raises `FinesseXmlError` naming it
    (Finesse answers 400 Invalid Input)."""
    root = _root(src)
    _expect(root, "Dialog")
    k = _kids(root)
    req = DialogRequest(**_texts(k, _REQUEST_TEXT))
    if "actionParams" in k:
        req.action_params = _parse_action_params(k["actionParams"])
    if "mediaProperties" in k:
        req.media_properties = _parse_media_properties(k["mediaProperties"], strict=True)
    return req


# ---------------------------------------------------------------------------------------
# Team
# ---------------------------------------------------------------------------------------


def _team_member_xml(m: TeamMember, root: str) -> str:
    rc = m.reason_code
    return "".join(
        (
            f"<{root}>",
            _leaf("dialogs", m.dialogs),
            _leaf("extension", m.extension),
            _leaf("firstName", m.first_name),
            _leaf("lastName", m.last_name),
            _leaf("loginId", m.login_id),
            _leaf("pendingState", m.pending_state),
            "" if rc is None else f"<reasonCode>{_reason_code_body(rc)}</reasonCode>",
            _leaf("state", m.state),
            _leaf("stateChangeTime", m.state_change_time),
            _leaf("uri", m.uri),
            f"</{root}>",
        )
    )


def team_member_to_xml(member: TeamMember, *, notification: bool = True) -> str:
    """The user summary: `<user>` for Team/{id}/Users notifications, `<User>` otherwise.
    The reason code is `<reasonCode>` (lower case, as the DEV:team example shows)."""
    return _team_member_xml(member, "user" if notification else "User")


def team_to_xml(team: Team) -> str:
    """`<Team>` (REST GET /Team/{id}) with `<users><User>` summaries."""
    users = "".join(_team_member_xml(m, "User") for m in team.users)
    return (
        f"<Team>{_leaf('id', team.id)}{_leaf('name', team.name)}{_leaf('uri', team.uri)}"
        f"<users>{users}</users></Team>"
    )


_MEMBER_TEXT = (
    ("loginId", "login_id"),
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("state", "state"),
    ("stateChangeTime", "state_change_time"),
    ("pendingState", "pending_state"),
    ("extension", "extension"),
    ("uri", "uri"),
    ("dialogs", "dialogs"),
)


def _parse_team_member_el(el: ET.Element) -> TeamMember:
    k = _kids(el)
    kw: dict = _texts(k, _MEMBER_TEXT)
    kw.setdefault("login_id", _last_segment(kw.get("uri", "")))
    kw["reason_code"] = _parse_optional_reason_code(k)
    return TeamMember(**kw)


def parse_team_member(src: XmlSource) -> TeamMember:
    """A `<user>`/`<User>` summary (Team/{id}/Users notifications, Team users)."""
    root = _root(src)
    _expect(root, "User")
    return _parse_team_member_el(root)


def parse_team(src: XmlSource) -> Team:
    root = _root(src)
    _expect(root, "Team")
    k = _kids(root)
    users_el = k.get("users")
    users = (
        [] if users_el is None else [_parse_team_member_el(u) for u in _children(users_el, "user")]
    )
    return Team(
        id=_t(k["id"]) if "id" in k else "",
        name=_t(k["name"]) if "name" in k else "",
        users=users,
        uri=_t(k["uri"]) if "uri" in k else "",
    )


# ---------------------------------------------------------------------------------------
# SystemInfo
# ---------------------------------------------------------------------------------------


def _node_xml(tag: str, node: Node | None) -> str:
    if node is None:
        return ""
    return (
        f"<{tag}>{_leaf('host', node.host)}{_leaf('httpsPort', node.https_port)}"
        f"{_leaf('xmppPort', node.xmpp_port)}{_leaf('xmppSecurePort', node.xmpp_secure_port)}"
        f"</{tag}>"
    )


def system_info_to_xml(info: SystemInfo, *, notification: bool = False) -> str:
    """`<SystemInfo>`, children alphabetical; a node that is None is left out.

    `notification` is accepted for symmetry but changes nothing: the casing of the
    SystemInfo notification wrapper is UNCONFIRMED (docs/finesse.md, Choices where Cisco is
    silent), so the REST casing is used for both.
    """
    del notification
    return "".join(
        (
            "<SystemInfo>",
            _leaf("ctiVersion", info.cti_version),
            _leaf("currentTimestamp", info.current_timestamp),
            _leaf("deploymentType", info.deployment_type),
            _leaf("peripheralId", info.peripheral_id),
            _node_xml("primaryNode", info.primary_node),
            _node_xml("secondaryNode", info.secondary_node),
            _leaf("status", info.status),
            _leaf("statusReason", info.status_reason),
            _leaf("systemAuthMode", info.system_auth_mode),
            _leaf("timezoneOffset", info.timezone_offset),
            _leaf("uri", info.uri),
            _leaf("xmppDomain", info.xmpp_domain),
            _leaf("xmppPubSubDomain", info.xmpp_pubsub_domain),
            "</SystemInfo>",
        )
    )


_NODE_TEXT = (
    ("httpsPort", "https_port"),
    ("xmppPort", "xmpp_port"),
    ("xmppSecurePort", "xmpp_secure_port"),
)

_SYSTEM_INFO_TEXT = (
    ("status", "status"),
    ("statusReason", "status_reason"),
    ("deploymentType", "deployment_type"),
    ("currentTimestamp", "current_timestamp"),
    ("timezoneOffset", "timezone_offset"),
    ("xmppDomain", "xmpp_domain"),
    ("xmppPubSubDomain", "xmpp_pubsub_domain"),
    ("ctiVersion", "cti_version"),
    ("peripheralId", "peripheral_id"),
    ("systemAuthMode", "system_auth_mode"),
    ("uri", "uri"),
)


def _parse_node(el: ET.Element) -> Node:
    k = _kids(el)
    return Node(host=_t(k["host"]) if "host" in k else "", **_texts(k, _NODE_TEXT))


def _parse_system_info_el(el: ET.Element) -> SystemInfo:
    k = _kids(el)
    kw: dict = _texts(k, _SYSTEM_INFO_TEXT)
    if "primaryNode" in k:
        kw["primary_node"] = _parse_node(k["primaryNode"])
    if "secondaryNode" in k:
        kw["secondary_node"] = _parse_node(k["secondaryNode"])
    return SystemInfo(**kw)


def parse_system_info(src: XmlSource) -> SystemInfo:
    """`<SystemInfo>` in any casing (the notification casing is UNCONFIRMED)."""
    root = _root(src)
    _expect(root, "SystemInfo")
    return _parse_system_info_el(root)


# ---------------------------------------------------------------------------------------
# ApiErrors
# ---------------------------------------------------------------------------------------


def api_errors_to_xml(errors: list[ApiError], *, notification: bool = False) -> str:
    """REST `<ApiErrors><ApiError><ErrorData/>...` (PascalCase) or the notification's
    `<apiErrors><apiError><errorData/>...` (lower camelCase)."""
    if notification:
        names = ("apiErrors", "apiError", "errorData", "errorMessage", "errorType")
    else:
        names = ("ApiErrors", "ApiError", "ErrorData", "ErrorMessage", "ErrorType")
    outer, item, data, message, kind = names
    body = "".join(
        f"<{item}>{_leaf(data, e.error_data)}{_leaf(message, e.error_message)}"
        f"{_leaf(kind, e.error_type)}</{item}>"
        for e in errors
    )
    return f"<{outer}>{body}</{outer}>"


def _parse_api_error_el(el: ET.Element) -> ApiError:
    k = _kids_ci(el)
    return ApiError(
        error_type=_t(k["errortype"]) if "errortype" in k else "",
        error_message=_t(k["errormessage"]) if "errormessage" in k else "",
        error_data=_t(k["errordata"]) if "errordata" in k else "",
    )


def _parse_api_errors_el(el: ET.Element) -> list[ApiError]:
    if _name(el) == "apierror":
        return [_parse_api_error_el(el)]
    _expect(el, "ApiErrors")
    return [_parse_api_error_el(c) for c in _children(el, "apierror")]


def parse_api_errors(src: XmlSource) -> list[ApiError]:
    """`<ApiErrors>`/`<apiErrors>`, or a lone `<ApiError>`/`<apiError>`."""
    return _parse_api_errors_el(_root(src))


# ---------------------------------------------------------------------------------------
# Update (the payload of every XMPP notification)
# ---------------------------------------------------------------------------------------


def _update_data_xml(data: UpdateData) -> str:
    if data is None:
        return ""
    if isinstance(data, User):
        return user_to_xml(data, notification=True)
    if isinstance(data, Dialog):
        # docs/finesse.md, Payloads and casing: the `<dialog>` wrapper holds the Dialog's fields
        # directly, as client parsers read `Update.data.dialog.<field>`.
        return f"<dialog>{_dialog_body(data)}</dialog>"
    if isinstance(data, SystemInfo):
        return system_info_to_xml(data, notification=True)
    if isinstance(data, TeamMember):
        return team_member_to_xml(data, notification=True)
    if isinstance(data, list):
        if not data or isinstance(data[0], Dialog):
            return dialogs_to_xml(data, notification=True)  # type: ignore[arg-type]
        if isinstance(data[0], ApiError):
            return api_errors_to_xml(data, notification=True)  # type: ignore[arg-type]
    raise TypeError(f"cannot serialise Update data of type {type(data).__name__}")


def update_to_xml(update: Update) -> str:
    """`<Update><data/><event/><requestId/><source/></Update>`, in the order seen on the wire."""
    return (
        f"<Update><data>{_update_data_xml(update.data)}</data>"
        f"{_leaf('event', update.event)}{_leaf('requestId', update.request_id)}"
        f"{_leaf('source', update.source)}</Update>"
    )


def _find_update(root: ET.Element, depth: int = 0) -> tuple[ET.Element, str]:
    """The `<Update>` at or under `root`, and the pubsub `items` node name if present.

    When the Update is not there as elements, the first text that looks like XML is
    parsed (docs/finesse.md, Notification envelope: payloads may arrive XML-encoded as text).
    """
    node = ""
    for el in root.iter():
        if el.tag.__class__ is not str:
            continue
        name = _name(el)
        if name == "update":
            return el, node
        if name == "items" and not node:
            node = el.get("node", "")
    if depth == 0:
        for el in root.iter():
            text = el.text.strip() if el.text else ""
            if text.startswith("<"):
                found, _ = _find_update(parse_xml(text), depth + 1)
                return found, node
    raise FinesseXmlError(f"no <Update> in <{local(root.tag)}>")


def _parse_update_data(el: ET.Element, *, team_member: bool) -> UpdateData:
    name = _name(el)
    if name == "user":
        return _parse_team_member_el(el) if team_member else _parse_user_el(el)
    if name == "dialog":
        return _parse_dialog_el(el)
    if name == "dialogs":
        return [_parse_dialog_el(c) for c in _children(el, "dialog")]
    if name in ("apierrors", "apierror"):
        return _parse_api_errors_el(el)
    if name == "systeminfo":
        return _parse_system_info_el(el)
    raise FinesseXmlError(f"unsupported Update data <{local(el.tag)}>")


def parse_update(src: XmlSource, *, team_member: bool | None = None) -> Update:
    """An `<Update>`, or any element holding one (`<notification>`, the whole `<message>`).

    `<data>` is dispatched on its first child's name, case-insensitively. A `<user>` is a
    `User`, except on a Team/{id}/Users node, where it is the `TeamMember` summary: the
    source (`/finesse/api/User/{memberId}`) looks the same on both nodes, so this is
    decided by `team_member`, or when None by the pubsub `items` node if `src` includes
    it. A `<data>` without child elements whose text is XML is parsed from that text.
    """
    update_el, node = _find_update(_root(src))
    if team_member is None:
        team_member = "/Team/" in node
    k = _kids_ci(update_el)
    data: UpdateData = None
    data_el = k.get("data")
    if data_el is not None:
        payload = next((c for c in data_el if c.tag.__class__ is str), None)
        if payload is None:
            text = data_el.text.strip() if data_el.text else ""
            if text.startswith("<"):
                payload = parse_xml(text)
        if payload is not None:
            data = _parse_update_data(payload, team_member=team_member)
    return Update(
        event=_t(k["event"]).upper() if "event" in k else "",
        source=_t(k["source"]) if "source" in k else "",
        data=data,
        request_id=_t(k["requestid"]) if "requestid" in k else "",
    )
