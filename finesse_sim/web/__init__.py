"""HTTP adapters: the Finesse REST API (`/finesse/api`) and the control API (`/sim/v1`)."""
