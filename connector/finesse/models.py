"""Finesse wire objects as plain dataclasses.

One class per Finesse element, with Finesse's own vocabulary (states, actions, element
names in the docstrings). XML is built and parsed in `connector.finesse.codec`; these
classes know nothing about XML, so the simulator's model and the connector's agent session
can use them without touching the wire.

Field names are snake_case versions of the Finesse element names (`loginId` ->
`login_id`), except where noted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

API = "/finesse/api"


class AgentState(StrEnum):
    """User `state` values (docs/finesse.md, User: sign-in and state changes). LOGIN is a request
    only, never a state."""

    LOGIN = "LOGIN"
    LOGOUT = "LOGOUT"
    NOT_READY = "NOT_READY"
    READY = "READY"
    RESERVED = "RESERVED"
    RESERVED_OUTBOUND = "RESERVED_OUTBOUND"
    RESERVED_OUTBOUND_PREVIEW = "RESERVED_OUTBOUND_PREVIEW"
    TALKING = "TALKING"
    HOLD = "HOLD"
    WORK = "WORK"
    WORK_READY = "WORK_READY"
    UNKNOWN = "UNKNOWN"


class DialogState(StrEnum):
    INITIATING = "INITIATING"
    INITIATED = "INITIATED"
    ALERTING = "ALERTING"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    DROPPED = "DROPPED"
    ACCEPTED = "ACCEPTED"


class ParticipantState(StrEnum):
    INITIATING = "INITIATING"
    INITIATED = "INITIATED"
    ALERTING = "ALERTING"
    ACTIVE = "ACTIVE"
    FAILED = "FAILED"
    HELD = "HELD"
    DROPPED = "DROPPED"
    WRAP_UP = "WRAP_UP"
    ACCEPTED = "ACCEPTED"


class Action(StrEnum):
    """Dialog `requestedAction` values and participant `actions/action` entries."""

    MAKE_CALL = "MAKE_CALL"
    ANSWER = "ANSWER"
    HOLD = "HOLD"
    RETRIEVE = "RETRIEVE"
    DROP = "DROP"
    CONSULT_CALL = "CONSULT_CALL"
    TRANSFER = "TRANSFER"
    CONFERENCE = "CONFERENCE"
    TRANSFER_SST = "TRANSFER_SST"
    SEND_DTMF = "SEND_DTMF"
    UPDATE_CALL_DATA = "UPDATE_CALL_DATA"


class MobileAgentMode(StrEnum):
    CALL_BY_CALL = "CALL_BY_CALL"
    NAILED_CONNECTION = "NAILED_CONNECTION"


class WrapUpMode(StrEnum):
    """`settings/wrapUpOnIncoming` and `wrapUpOnOutgoing`."""

    NOT_ALLOWED = "NOT_ALLOWED"
    OPTIONAL = "OPTIONAL"
    REQUIRED = "REQUIRED"
    REQUIRED_WITH_WRAP_UP_DATA = "REQUIRED_WITH_WRAP_UP_DATA"


CALL_VARIABLE_NAMES: tuple[str, ...] = tuple(f"callVariable{i}" for i in range(1, 11))
ECC_PREFIX = "user."


def user_uri(user_id: str) -> str:
    return f"{API}/User/{user_id}"


def dialogs_uri(user_id: str) -> str:
    return f"{API}/User/{user_id}/Dialogs"


def dialog_uri(dialog_id: str) -> str:
    return f"{API}/Dialog/{dialog_id}"


def team_users_uri(team_id: str) -> str:
    return f"{API}/Team/{team_id}/Users"


SYSTEM_INFO_URI = f"{API}/SystemInfo"


@dataclass(slots=True)
class ReasonCode:
    """`ReasonCode` (REST, and the docs) or `reasonCode` (inside UCCX `<user>`).

    `id` is the database id that `reasonCodeId` refers to, `code` the number an admin
    configured (1-65535) or a system code such as 255 or 50006.
    """

    id: str
    category: str  # NOT_READY | LOGOUT
    code: str
    label: str
    for_all: bool = True
    system_code: bool = False
    uri: str = ""

    def __post_init__(self) -> None:
        if not self.uri:
            self.uri = f"{API}/ReasonCode/{self.id}"


@dataclass(slots=True)
class WrapUpReason:
    id: str
    label: str
    for_all: bool = True
    uri: str = ""

    def __post_init__(self) -> None:
        if not self.uri:
            self.uri = f"{API}/WrapUpReason/{self.id}"


@dataclass(slots=True)
class MobileAgent:
    """`mobileAgent` of a User: present only for a mobile agent (UCCE)."""

    mode: str  # MobileAgentMode value; kept as str so an invalid mode can be reported
    dial_number: str


@dataclass(slots=True)
class UserSettings:
    wrap_up_on_incoming: str = ""
    wrap_up_on_outgoing: str = ""
    device_selection: str = ""


@dataclass(slots=True)
class User:
    """A Finesse User: REST `<User>`, notification `<user>`.

    A request body (`PUT /User/{id}`) is parsed into the same class: only `state`,
    `extension`, `reason_code_id` and `mobile_agent` are then set.
    """

    login_id: str = ""
    login_name: str = ""
    first_name: str = ""
    last_name: str = ""
    state: str = ""
    state_change_time: str = ""
    pending_state: str = ""
    reason_code_id: str = ""
    reason_code: ReasonCode | None = None
    extension: str = ""
    media_type: str = "1"
    roles: list[str] = field(default_factory=lambda: ["Agent"])
    settings: UserSettings | None = None
    team_id: str = ""
    team_name: str = ""
    mobile_agent: MobileAgent | None = None
    uri: str = ""
    dialogs: str = ""

    def __post_init__(self) -> None:
        if self.login_id and not self.uri:
            self.uri = user_uri(self.login_id)
        if self.login_id and not self.dialogs:
            self.dialogs = dialogs_uri(self.login_id)


@dataclass(slots=True)
class MediaProperties:
    """`mediaProperties` of a voice Dialog.

    `call_variables` maps `callVariable1`..`callVariable10` and ECC `user.*` names to their
    values, in wire order. The codec always writes all ten `callVariableN` (empty when
    unset), as real servers do.
    """

    media_id: str = "1"
    dialed_number: str = ""
    dnis: str = ""
    call_type: str = ""
    queue_number: str = ""
    queue_name: str = ""
    wrap_up_reason: str = ""
    call_variables: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Participant:
    media_address: str
    state: str
    actions: list[str] = field(default_factory=list)
    media_address_type: str = ""
    start_time: str = ""
    state_cause: str = ""
    state_change_time: str = ""


@dataclass(slots=True)
class Dialog:
    id: str
    state: str = ""
    from_address: str = ""
    to_address: str = ""
    media_type: str = "Voice"
    associated_dialog_uri: str = ""
    secondary_id: str = ""
    media_properties: MediaProperties = field(default_factory=MediaProperties)
    participants: list[Participant] = field(default_factory=list)
    uri: str = ""

    def __post_init__(self) -> None:
        if self.id and not self.uri:
            self.uri = dialog_uri(self.id)

    def participant(self, media_address: str) -> Participant | None:
        for p in self.participants:
            if p.media_address == media_address:
                return p
        return None


@dataclass(slots=True)
class DialogRequest:
    """Body of `POST /User/{id}/Dialogs` (MAKE_CALL) and `PUT /Dialog/{id}`.

    `action_params` holds `actionParams/ActionParam{name,value}` (e.g. `dtmfString`).
    `media_properties` is set only when the request carried `<mediaProperties>`.
    """

    requested_action: str = ""
    from_address: str = ""
    to_address: str = ""
    target_media_address: str = ""
    action_params: dict[str, str] = field(default_factory=dict)
    media_properties: MediaProperties | None = None


@dataclass(slots=True)
class TeamMember:
    """The user summary inside `Team/users` and Team/{id}/Users notifications."""

    login_id: str
    first_name: str = ""
    last_name: str = ""
    state: str = ""
    state_change_time: str = ""
    pending_state: str = ""
    extension: str = ""
    reason_code: ReasonCode | None = None
    uri: str = ""
    dialogs: str = ""

    def __post_init__(self) -> None:
        if not self.uri:
            self.uri = user_uri(self.login_id)
        if not self.dialogs:
            self.dialogs = dialogs_uri(self.login_id)


@dataclass(slots=True)
class Team:
    id: str
    name: str
    users: list[TeamMember] = field(default_factory=list)
    uri: str = ""

    def __post_init__(self) -> None:
        if not self.uri:
            self.uri = f"{API}/Team/{self.id}"


@dataclass(slots=True)
class Node:
    """`primaryNode` / `secondaryNode` of SystemInfo."""

    host: str
    https_port: str = ""
    xmpp_port: str = ""
    xmpp_secure_port: str = ""


@dataclass(slots=True)
class SystemInfo:
    status: str = "IN_SERVICE"  # IN_SERVICE | OUT_OF_SERVICE
    status_reason: str = ""
    deployment_type: str = "UCCE"  # UCCE | UCCX
    current_timestamp: str = ""
    timezone_offset: str = "0"
    xmpp_domain: str = ""
    xmpp_pubsub_domain: str = ""
    primary_node: Node | None = None
    secondary_node: Node | None = None
    cti_version: str = ""
    peripheral_id: str = ""
    system_auth_mode: str = "NON_SSO"
    uri: str = SYSTEM_INFO_URI


@dataclass(slots=True)
class ApiError:
    """One error: REST `ApiError/ErrorType…` or notification `apiError/errorType…`."""

    error_type: str
    error_message: str = ""
    error_data: str = ""


class ApiErrorException(Exception):
    """A Finesse error as an exception: the HTTP status and the ApiError body."""

    def __init__(self, status: int, error: ApiError) -> None:
        super().__init__(f"{status} {error.error_type}: {error.error_message} {error.error_data}")
        self.status = status
        self.error = error


# What an Update's <data> holds. A list of dialogs is the `<dialogs>` wrapper (POST/DELETE on
# the Dialogs node); a single Dialog is the `<dialog>` wrapper (PUT with source Dialog/{id}).
UpdateData = User | Dialog | list[Dialog] | list[ApiError] | SystemInfo | TeamMember | None


@dataclass(slots=True)
class Update:
    """A notification's `<Update>`: `data`, `event`, `requestId`, `source`."""

    event: str  # PUT | POST | DELETE (upper case on the wire; compare case-insensitively)
    source: str
    data: UpdateData = None
    request_id: str = ""
