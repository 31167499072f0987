"""One agent's Finesse state, mirrored from Updates and REST snapshots.

`AgentSession` is pure: Finesse Updates and snapshots go in, mobile events come out, and the
app's commands are checked against what Finesse currently offers this agent before any
request is made. The service layer (`connector/service/`) does the I/O around it.
"""

from __future__ import annotations

from typing import Any

from connector.errors import AgentError, Refusal
from connector.finesse.models import (
    Action,
    ApiError,
    Dialog,
    DialogRequest,
    MediaProperties,
    SystemInfo,
    TeamMember,
    Update,
    User,
)
from connector.session import events as ev
from connector.session.events import MobileEvent

# Commands that need call control: everything a dialog can be asked, and placing a call.
CALL_CONTROL = frozenset(a.value for a in Action)
# What each action needs from the app besides the action itself.
NEEDS_TO_ADDRESS = frozenset({Action.CONSULT_CALL, Action.TRANSFER_SST})
STATES_THE_APP_SETS = ("READY", "NOT_READY")


def _user_view(user: User | None) -> tuple[Any, ...]:
    if user is None:
        return ()
    return (user.state, user.pending_state, user.reason_code_id, user.extension)


class AgentSession:
    def __init__(
        self,
        agent_id: str,
        extension: str,
        *,
        call_control: bool,
        dial_number: str = "",
    ) -> None:
        self.agent_id = agent_id
        self.extension = extension
        self.dial_number = dial_number
        self.call_control = call_control
        self.user: User | None = None
        self.dialogs: dict[str, Dialog] = {}
        self.system: SystemInfo | None = None

    # -- reading ------------------------------------------------------------------------------

    def own_participant(self, dialog: Dialog):
        """This agent's participant: its login extension (a mobile agent's local CTI port);
        the dial number as a fallback, should a deployment show that instead."""
        return dialog.participant(self.extension) or (
            dialog.participant(self.dial_number) if self.dial_number else None
        )

    def actions(self, dialog: Dialog) -> list[str]:
        """What the app may ask of this dialog now: what Finesse offers the agent's
        participant, nothing at all without call control."""
        if not self.call_control:
            return []
        own = self.own_participant(dialog)
        return list(own.actions) if own else []

    def dialog_json(self, dialog: Dialog) -> dict[str, Any]:
        return ev.dialog_data(dialog, self.actions(dialog))

    def snapshot(self) -> dict[str, Any]:
        return {
            "agent": ev.agent_data(self.user) if self.user else None,
            "dialogs": [self.dialog_json(d) for d in self.dialogs.values()],
            "system": ev.system_data(self.system) if self.system else None,
        }

    # -- Finesse in ---------------------------------------------------------------------------

    def apply(self, update: Update) -> list[MobileEvent]:
        """One Finesse notification; the mobile events it means (possibly none)."""
        data = update.data
        rid = update.request_id
        if isinstance(data, User):
            return self._user(data, rid, force=bool(rid))
        if isinstance(data, SystemInfo):
            self.system = data
            return [MobileEvent(ev.SYSTEM_STATUS, ev.system_data(data))]
        if isinstance(data, list) and all(isinstance(e, ApiError) for e in data) and data:
            payload = {"source": update.source, "errors": ev.errors_data(data)}
            if rid:
                payload["requestId"] = rid
            return [MobileEvent(ev.ERROR, payload)]
        if isinstance(data, list):
            event = update.event.upper()
            out: list[MobileEvent] = []
            for dialog in data:
                out += (
                    self._dialog_ended(dialog, rid)
                    if event == "DELETE"
                    else self._dialog(dialog, rid)
                )
            return out
        if isinstance(data, Dialog):
            if not data.id:
                # A DTMF action may produce a partial update without <id> (docs/finesse.md,
                # Payloads and casing);
                # it changes nothing the app shows, and must not replace the full dialog.
                return []
            return self._dialog(data, rid)
        if isinstance(data, TeamMember) or data is None:
            return []
        return []

    def resync(self, user: User, dialogs: list[Dialog]) -> list[MobileEvent]:
        """A fresh REST snapshot after a gap: the events for whatever changed meanwhile."""
        out = self._user(user, "", force=False)
        fresh = {d.id: d for d in dialogs}
        for dialog_id in [d for d in self.dialogs if d not in fresh]:
            out += self._dialog_ended(self.dialogs[dialog_id], "")
        for dialog in dialogs:
            if self.dialogs.get(dialog.id) != dialog:
                out += self._dialog(dialog, "")
        return out

    def _user(self, user: User, rid: str, *, force: bool) -> list[MobileEvent]:
        changed = _user_view(user) != _user_view(self.user)
        self.user = user
        if user.extension:
            self.extension = user.extension
        if not (changed or force):
            return []
        data = ev.agent_data(user)
        if rid:
            data["requestId"] = rid
        return [MobileEvent(ev.AGENT_STATE, data)]

    def _dialog(self, dialog: Dialog, rid: str) -> list[MobileEvent]:
        old = self.dialogs.get(dialog.id)
        self.dialogs[dialog.id] = dialog
        if old is not None and old == dialog and not rid:
            return []
        data = self.dialog_json(dialog)
        if rid:
            data["requestId"] = rid
        return [MobileEvent(ev.DIALOG_CREATED if old is None else ev.DIALOG_UPDATED, data)]

    def _dialog_ended(self, dialog: Dialog, rid: str) -> list[MobileEvent]:
        last = self.dialogs.pop(dialog.id, None) or dialog
        data = ev.dialog_data(dialog if dialog.participants else last, [])
        if rid:
            data["requestId"] = rid
        return [MobileEvent(ev.DIALOG_ENDED, data)]

    # -- commands out -------------------------------------------------------------------------

    def check_state(self, state: Any, reason_code_id: Any = None) -> tuple[str, str]:
        """PUT /agent/state: READY, or NOT_READY with an optional reason code id. Whether the
        change is allowed in the current state is Finesse's call (UCCE and UCCX differ)."""
        if state not in STATES_THE_APP_SETS:
            raise AgentError(Refusal.INVALID_FIELD, "state must be READY or NOT_READY", "state")
        reason = "" if reason_code_id is None else str(reason_code_id)
        digits = reason.removeprefix("-")
        if reason_code_id is not None and not (digits.isascii() and digits.isdigit()):
            raise AgentError(Refusal.INVALID_FIELD, "reasonCodeId must be a number", "reasonCodeId")
        return state, reason

    def check_make_call(self, to_address: Any) -> str:
        self._need_call_control()
        if not isinstance(to_address, str) or not to_address.strip():
            raise AgentError(Refusal.MISSING_FIELD, "toAddress is required", "toAddress")
        return to_address.strip()

    def check_action(self, dialog_id: str, command: dict[str, Any]) -> DialogRequest:
        """POST /dialogs/{id}/actions: the Finesse request for a command the agent's
        participant offers now; otherwise a clear error without a Finesse round trip."""
        action = command.get("action")
        if not isinstance(action, str) or not action:
            raise AgentError(Refusal.MISSING_FIELD, "action is required", "action")
        if action not in CALL_CONTROL or action == Action.MAKE_CALL:
            raise AgentError(Refusal.INVALID_FIELD, f"unknown action {action!r}", "action")
        self._need_call_control()
        dialog = self.dialogs.get(dialog_id)
        if dialog is None:
            raise AgentError(Refusal.NOT_FOUND, f"no dialog {dialog_id} for this agent")
        allowed = self.actions(dialog)
        if action not in allowed:
            raise AgentError(
                Refusal.ACTION_NOT_ALLOWED,
                f"{action} is not allowed now; allowed: {', '.join(allowed) or 'none'}",
                "action",
            )
        req = DialogRequest(requested_action=action, target_media_address=self.extension)
        if action in NEEDS_TO_ADDRESS:
            to = command.get("toAddress")
            if not isinstance(to, str) or not to.strip():
                raise AgentError(Refusal.MISSING_FIELD, "toAddress is required", "toAddress")
            req.to_address = to.strip()
        if action == Action.SEND_DTMF:
            digits = command.get("dtmf")
            if not isinstance(digits, str) or not digits:
                raise AgentError(Refusal.MISSING_FIELD, "dtmf is required", "dtmf")
            req.action_params = {"dtmfString": digits}
        if action == Action.UPDATE_CALL_DATA:
            req.media_properties = self._call_data(command)
            # The samples leave it out (docs/finesse.md, Dialogs and their actions).
            req.target_media_address = ""
        return req

    def _call_data(self, command: dict[str, Any]) -> MediaProperties:
        reason = command.get("wrapUpReason", "")
        variables = command.get("callVariables", {})
        if not isinstance(reason, str):
            raise AgentError(Refusal.INVALID_FIELD, "wrapUpReason must be a string", "wrapUpReason")
        if not isinstance(variables, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
        ):
            raise AgentError(
                Refusal.INVALID_FIELD, "callVariables maps names to strings", "callVariables"
            )
        if not reason and not variables:
            raise AgentError(
                Refusal.MISSING_FIELD, "wrapUpReason or callVariables is required", "wrapUpReason"
            )
        return MediaProperties(wrap_up_reason=reason, call_variables=dict(variables))

    def _need_call_control(self) -> None:
        if not self.call_control:
            raise AgentError(
                Refusal.CALL_CONTROL_UNAVAILABLE,
                "this session has no call control (signed in without a mobile phone)",
            )
