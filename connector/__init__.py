"""The Generic Connector: per-agent Finesse sessions relayed to a mobile API."""
