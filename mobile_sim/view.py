"""What the app shows, read from its mirror of the agent and its dialogs (the JSON of the
mobile API's events): the agent's own participant in a dialog, the actions offered, and
one-line descriptions for failure messages.

Pure functions on plain dicts, so the asyncio client, the Gherkin steps and the gevent Locust
file read a dialog the same way.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

Dialog = dict[str, Any]


def participant(dialog: Dialog, address: str) -> dict[str, Any] | None:
    """The participant on `address` (a mediaAddress: extension, dial number, caller)."""
    return my_participant(dialog, (address,))


def my_participant(dialog: Dialog, mine: Collection[str]) -> dict[str, Any] | None:
    """The agent's own participant: the one on one of its addresses (its extension, which
    is the LCP DN of a mobile agent, and maybe its dial number)."""
    for p in dialog.get("participants", ()):
        if p.get("mediaAddress") in mine:
            return p
    return None


def my_state(dialog: Dialog, mine: Collection[str]) -> str:
    """The state of the agent's own participant; "" when it is not on the dialog."""
    me = my_participant(dialog, mine)
    return str(me.get("state") or "") if me else ""


def dialogs_where_i_am(
    dialogs: Iterable[Dialog], mine: Collection[str], *states: str
) -> list[Dialog]:
    """The dialogs on which the agent's own participant is in one of `states`."""
    return [d for d in list(dialogs) if my_state(d, mine) in states]


def offers(dialog: Dialog, action: str) -> bool:
    """Whether the app offers `action` on the dialog (its participant's actions)."""
    return action in dialog.get("actions", ())


def agent_state(agent: dict[str, Any]) -> str:
    return str(agent.get("state") or "")


def describe_event(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    bits = [str(event.get("type"))]
    for key in ("state", "id", "callType", "status", "notifications"):
        if data.get(key):
            bits.append(f"{key}={data[key]}")
    if event.get("type") == "error":
        bits += [e.get("type", "") for e in data.get("errors", [])]
    return " ".join(bits)


def describe_dialog(dialog: Dialog, *, actions: bool = True) -> str:
    people = ", ".join(
        f"{p.get('mediaAddress')} {p.get('state')}" for p in dialog.get("participants", [])
    )
    line = f"dialog {dialog.get('id')} {dialog.get('callType')} {dialog.get('state')} [{people}]"
    return f"{line} actions {dialog.get('actions')}" if actions else line


def describe_view(agent: dict[str, Any], dialogs: Iterable[Dialog]) -> str:
    """The agent's state and its dialogs, in one line."""
    pending = agent.get("pendingState")
    bits = [f"state {agent.get('state', '?')}" + (f" (pending {pending})" if pending else "")]
    bits += [describe_dialog(d) for d in dialogs]
    return "; ".join(bits)
