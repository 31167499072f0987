"""`mobagent bench`'s phase accounting (`scenarios.bench.connector.stats`): the k-th flip of
an agent is paired with its k-th event, so an event that comes after its phase's drain must
neither be paired with the next phase's flips nor go uncounted: it is counted late."""

from __future__ import annotations

from scenarios.bench.connector import stats
from scenarios.bench.connector.agents import LoadAgent


def flips(agent: LoadAgent, *at: float) -> None:
    agent.acks.extend(at)
    agent.puts.extend(at)
    agent.sent += len(at)


def test_an_event_late_for_its_phase_is_late_there_and_not_paired_with_the_next():
    agent = LoadAgent(1, "app")
    first = stats.mark([agent])
    flips(agent, 1.0, 2.0, 3.0)
    agent.recv.extend([1.001, 2.001])  # the third has not come by the drain
    one = stats.phase([agent], first)
    until = stats.mark([agent])
    assert (one["events_sent"], one["events_received"], one["lost"]) == (3, 2, 1)

    flips(agent, 10.0, 11.0)
    agent.recv.extend([9.5, 10.002, 11.002])  # the late one first, then this phase's two
    two = stats.phase([agent], until)
    assert (two["events_sent"], two["events_received"], two["lost"]) == (2, 2, 0)
    # Paired with their own flips: 2 ms each, not the late event's 9.5 - 10.0.
    assert two["e2e_ms"]["p50"] == two["e2e_ms"]["p99"] == 2.0
    assert two["events_before_ack"] == 0
    assert stats.late([agent], first, until, one["events_received"]) == 1
    assert stats.late([agent], until, stats.mark([agent]), two["events_received"]) == 0


def test_an_event_that_never_comes_is_still_counted_lost_across_the_phases():
    """Events carry no id, so a missing event's place is taken by the next one that comes:
    the loss then shows in the next phase. What holds: the lost minus the late, summed over
    the phases, is the events that never came (and any lost fails the run's verdict)."""
    agent = LoadAgent(1, "app")
    first = stats.mark([agent])
    flips(agent, 1.0, 2.0)
    agent.recv.append(1.001)  # the second never comes
    one = stats.phase([agent], first)
    until = stats.mark([agent])
    flips(agent, 5.0)
    agent.recv.append(5.001)
    two = stats.phase([agent], until)
    end = stats.mark([agent])
    lost = one["lost"] + two["lost"]
    late = stats.late([agent], first, until, one["events_received"]) + stats.late(
        [agent], until, end, two["events_received"]
    )
    assert lost - late == 1
