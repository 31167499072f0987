"""The agent's app: a progressive web app (`static/`) and the Mobile App Server that hosts it.

It knows the connector only by its public mobile API (`/api/v1`, the event WebSocket).
"""
