"""The simulated Finesse's embedded XMPP notification service (docs/finesse.md, XMPP notifications).

A small asyncio c2s server: SASL PLAIN, resource bind, presence, XEP-0199 ping and just
enough XEP-0060 pubsub for Finesse's notifications. `XmppServer` is the whole public API.
"""

from .server import XmppServer

__all__ = ["XmppServer"]
