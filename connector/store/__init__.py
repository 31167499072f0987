"""State stores, the adapters of `connector.service.ports.StatePort`: in this process
(`memory.py`, the default) or in Redis (`redis_state.py`, its scripts in
`redis_scripts.py`), shared by several connector processes and surviving a restart;
`sealing.py` seals the passwords a shared store keeps. The runtime builds one from the
`state` option."""
