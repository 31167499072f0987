"""Benchmarks of the simulated Finesse (`python -m scenarios.bench.sim_bench`)."""
