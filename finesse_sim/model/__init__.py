"""The contact-centre model: no sockets, no asyncio, one simpy clock.

- `timers`: cancellable callbacks on the simpy environment (every Finesse timer lives here).
- `acd`: the queueing core (queues, longest-available routing). It knows nothing of Finesse
  and runs alone, in virtual time, for capacity planning.
- `agent_states` and `participant_actions`: Finesse's rules as pure functions and tables.
- `contact_center`: the Finesse layer's entry point, `ContactCenter`: queries, inputs, and
  the notifications derived from what changed. Its parts: `agent_desk` (sign-in, state,
  presence, wrap-up), `telephony` (phones, calls, routing, ringing), `dialog_requests`
  (MAKE_CALL and the dialog actions), over the records of `calls`.
"""
