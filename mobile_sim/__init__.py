"""Simulated mobile agents: app client, phone, personas, swarm (later issue)."""
