"""Benchmarks: the simulated Finesse (`python -m scenarios.bench.sim_bench`) and the
connector's memory per agent (`python -m scenarios.bench.connector_memory`); `procs` holds
their shared process management."""
