"""Traffic: profiles (the format lives in `finesse_sim.traffic`), the live-run report."""
