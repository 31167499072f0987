"""The Finesse protocol: wire models (XML <-> dataclasses), REST client, XMPP session."""
