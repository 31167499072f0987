"""The agent session: one agent's Finesse state mirrored, turned into mobile events, and
the app's commands checked, all without I/O (the functional core of the connector)."""
