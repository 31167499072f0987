"""Traffic in the harness: the live-run report (profiles live in `finesse_sim.traffic`)."""
