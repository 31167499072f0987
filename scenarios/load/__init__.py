"""Locust load tests of the Generic Connector against the simulated Finesse."""
