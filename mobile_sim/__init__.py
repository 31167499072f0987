"""Simulated mobile agents: the app client, the handset, personas and the swarm.

They use the connector and the simulator only through their public HTTP and WebSocket
contracts, so they work against a connector deployed anywhere."""
