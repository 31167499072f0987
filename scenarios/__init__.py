"""The harness: stack start-up, steps, traffic, load and benchmarks."""
