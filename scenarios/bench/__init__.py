"""Benchmarks: the simulated Finesse (`python -m scenarios.bench.sim_bench`), the
connector's memory per agent (`python -m scenarios.bench.connector_memory`) and its push
latency under load (`mobagent bench`, `connector/`); `procs` holds their shared process
management."""
