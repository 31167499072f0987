"""The contact-centre model: no sockets, no asyncio, one simpy clock.

- `timers`: cancellable callbacks on the simpy environment (every Finesse timer lives here).
- `acd`: the queueing core (queues, longest-available routing). It knows nothing of Finesse
  and runs alone, in virtual time, for capacity planning.
- `agent_states` and `participant_actions`: Finesse's rules as pure functions and tables.
- `contact_center`: the Finesse layer (users, phones, calls, dialogs) that drives the core
  and emits notifications as Update objects.
"""
