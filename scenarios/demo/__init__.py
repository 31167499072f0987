"""`mobagent demo`: the simulator, the connector, simulated agents and live traffic together."""
