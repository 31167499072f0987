"""Mobile events: the JSON the app receives, made from Finesse objects.

Finesse's vocabulary stays as it is (READY, CONSULT_CALL, ALERTING, ...); only the shape
changes: camelCase JSON instead of XML, call variables as one object, and per dialog the
`actions` this agent may take now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connector.finesse.models import ApiError, Dialog, Participant, SystemInfo, User

AGENT_STATE = "agent.state"
DIALOG_CREATED = "dialog.created"
DIALOG_UPDATED = "dialog.updated"
DIALOG_ENDED = "dialog.ended"
ERROR = "error"
SESSION_RESYNC = "session.resync"
SESSION_ENDED = "session.ended"
SYSTEM_STATUS = "system.status"
EVENT_TYPES = (
    AGENT_STATE,
    DIALOG_CREATED,
    DIALOG_UPDATED,
    DIALOG_ENDED,
    ERROR,
    SESSION_RESYNC,
    SESSION_ENDED,
    SYSTEM_STATUS,
)

# Why a session ended (`session.ended` data `reason`).
SIGNED_OUT = "signed_out"  # the app signed out
FORCED_LOGOUT = "forced_logout"  # Finesse logged the agent out (reason code 255: no presence)
LOGGED_OUT = "logged_out"  # logged out by someone else: a supervisor, the desktop, a reset
CREDENTIALS_REFUSED = "credentials_refused"  # refused at reconnect for longer than a lock-out
FINESSE_UNREACHABLE = "finesse_unreachable"  # no notification service for too long
FORCED_LOGOUT_REASON_CODE = "255"


@dataclass(frozen=True, slots=True)
class MobileEvent:
    type: str
    data: dict[str, Any] = field(default_factory=dict)


def agent_data(user: User) -> dict[str, Any]:
    reason = user.reason_code
    return {
        "id": user.login_id,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "state": user.state,
        "pendingState": user.pending_state,
        "reasonCodeId": user.reason_code_id,
        "reasonCode": (
            {"id": reason.id, "code": reason.code, "label": reason.label} if reason else None
        ),
        "stateChangeTime": user.state_change_time,
        "extension": user.extension,
        "mobile": (
            {"mode": user.mobile_agent.mode, "dialNumber": user.mobile_agent.dial_number}
            if user.mobile_agent
            else None
        ),
    }


def participant_data(p: Participant) -> dict[str, Any]:
    return {
        "mediaAddress": p.media_address,
        "mediaAddressType": p.media_address_type,
        "state": p.state,
        "stateCause": p.state_cause,
        "startTime": p.start_time,
        "stateChangeTime": p.state_change_time,
        "actions": list(p.actions),
    }


def dialog_id_of_uri(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1] if uri else ""


def dialog_data(dialog: Dialog, actions: list[str]) -> dict[str, Any]:
    media = dialog.media_properties
    return {
        "id": dialog.id,
        "state": dialog.state,
        "fromAddress": dialog.from_address,
        "toAddress": dialog.to_address,
        "callType": media.call_type,
        "queueName": media.queue_name,
        "queueNumber": media.queue_number,
        "dialedNumber": media.dialed_number,
        "associatedDialogId": dialog_id_of_uri(dialog.associated_dialog_uri),
        "wrapUpReason": media.wrap_up_reason,
        "callVariables": dict(media.call_variables),
        "participants": [participant_data(p) for p in dialog.participants],
        "actions": actions,
    }


def errors_data(errors: list[ApiError]) -> list[dict[str, str]]:
    return [
        {"type": e.error_type, "message": e.error_message, "data": e.error_data} for e in errors
    ]


def system_data(info: SystemInfo) -> dict[str, Any]:
    return {"status": info.status, "statusReason": info.status_reason}
