"""`mobagent bench`: the Generic Connector's push latency, loss, memory and CPU under load.

By job: `cli` (flags, text output), `run` (the processes and the phases), `workers` (the
load-generator processes and their JSON-lines protocol), `generator` (what a worker does:
sign in, receive, flip states), `stats` (latencies and losses of a phase), `verdict` (the
targets), `chart` (latency against load), `profiled` (the connector under cProfile).
"""
