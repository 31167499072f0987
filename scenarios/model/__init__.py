"""The offline traffic model (`mobagent model`): the simulator's queueing core
(`finesse_sim.model.acd`) with modelled callers and agents in virtual time.

- `engine`: one replication on a simpy Environment (the hot path); each queue is a live
  traffic `finesse_sim.traffic.Profile`, sampled by the profile's own code.
- `inputs`: a steady queue or a profile's queues as the engine's configuration, defaults.
- `experiment`: independent replications, KPIs with 95 % confidence intervals, staffing search.
- `stats`: Student-t intervals. `chart`: the PNG chart. `cli`: the command line.
- `check`: the model against Erlang C / Erlang A (`python -m scenarios.model.check --full`).
"""
