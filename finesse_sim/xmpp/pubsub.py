"""XEP-0060 subscription registry: which users hear which node.

Finesse has two kinds of subscription (docs/finesse.md, Subscriptions):

* automatic ones (User/{id}, User/{id}/Dialogs, SystemInfo, ...) that exist while the user
  has a session, without any iq; they are not listed by a subscriptions query and cannot be
  removed, the same as a Finesse desktop never manages them;
* explicit ones, made with a subscribe iq. They belong to the user (bare JID), survive
  disconnects ("leftover subscriptions persist on the node") and end only with an
  unsubscribe.

Delivery is per user; the session registry decides which of the user's resources get it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator


class PubSub:
    def __init__(self) -> None:
        self._explicit: dict[str, dict[str, str]] = {}  # node -> user -> subid
        self._auto: dict[str, set[str]] = {}  # node -> users
        self._auto_by_user: dict[str, frozenset[str]] = {}  # user -> nodes

    # --- automatic subscriptions -----------------------------------------------------------

    def set_auto(self, user: str, nodes: Iterable[str]) -> None:
        """Replace the user's automatic subscriptions."""
        self.clear_auto(user)
        wanted = frozenset(nodes)
        self._auto_by_user[user] = wanted
        for node in wanted:
            self._auto.setdefault(node, set()).add(user)

    def clear_auto(self, user: str) -> None:
        for node in self._auto_by_user.pop(user, ()):
            users = self._auto[node]
            users.discard(user)
            if not users:
                del self._auto[node]

    # --- explicit subscriptions ------------------------------------------------------------

    def subscribe(self, user: str, node: str) -> str:
        """Subscribe (idempotent) and return the subscription id."""
        users = self._explicit.setdefault(node, {})
        subid = users.get(user)
        if subid is None:
            subid = users[user] = uuid.uuid4().hex
        return subid

    def subid(self, user: str, node: str) -> str | None:
        return self._explicit.get(node, {}).get(user)

    def unsubscribe(self, user: str, node: str) -> bool:
        """Remove an explicit subscription; False if there was none."""
        users = self._explicit.get(node)
        if not users or user not in users:
            return False
        del users[user]
        if not users:
            del self._explicit[node]
        return True

    def explicit_subscriptions(self, user: str) -> list[tuple[str, str]]:
        """(node, subid) of the user's explicit subscriptions, sorted by node."""
        return sorted(
            (node, users[user]) for node, users in self._explicit.items() if user in users
        )

    # --- fan-out ---------------------------------------------------------------------------

    def subscribers(self, node: str) -> Iterator[str]:
        """Every user subscribed to the node, explicitly or automatically, once each."""
        explicit = self._explicit.get(node)
        auto = self._auto.get(node)
        if explicit:
            yield from explicit
        if auto:
            if explicit:
                for user in auto:
                    if user not in explicit:
                        yield user
            else:
                yield from auto
