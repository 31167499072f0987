"""The contact-centre model: no sockets, no asyncio, one simpy clock.

- `timers`: cancellable callbacks on the simpy environment (every Finesse timer lives here).
- `acd`: the queueing core (queues, longest-available routing). It knows nothing of Finesse
  and runs alone, in virtual time, for capacity planning.
- `agent_states` and `participant_actions`: Finesse's rules as pure functions and tables.
- `contact_center`: the Finesse layer's entry point, `ContactCenter`, a facade over its
  collaborators: `records` (agents, calls, queues), `publisher` (inputs, timers and the
  notifications derived from what changed), `phones` (events to handsets), `agent_desk`
  (sign-in, state, presence, wrap-up), `telephony` (calls, routing, ringing) and
  `dialog_requests` (MAKE_CALL and the dialog actions); `views` is what Finesse shows of the
  records of `calls`, `call_variables` the limits on call data.
"""
