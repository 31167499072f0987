"""Web Push (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID): wake an agent's app
when it is in the background and an event it must not miss arrives.

`vapid.py` keeps the connector's key pair, `allowlist.py` says which push services the
connector may call, `subscriptions.py` holds the browsers' subscriptions, `message.py`
decides what is pushed and shapes it, `delivery.py` sends with retries (on the event loop,
or from a process of its own: `process.py`), and `notifier.py` is the event sink and the
use cases the mobile API calls.
"""

from connector.push.allowlist import DEFAULT_PUSH_SERVICES, Allowlist
from connector.push.notifier import PushNotifier
from connector.push.subscriptions import MemorySubscriptions, Subscription, Subscriptions
from connector.push.vapid import VapidKeys

__all__ = [
    "DEFAULT_PUSH_SERVICES",
    "Allowlist",
    "MemorySubscriptions",
    "PushNotifier",
    "Subscription",
    "Subscriptions",
    "VapidKeys",
]
