"""The generated roster of the benchmarks and load tests: agent i (1, 2, ...) is id 1000+i,
extension 20000+i, mobile dial number +1555123iiii, one team and one queue (DN 8000) holding
them all, or the first `n` of them when a second queue (DN 8001) holds the `push` others.
One place, so that the simulator's roster and whoever signs the agents in agree."""

from __future__ import annotations

PASSWORD = "password"
ROSTER_NAME = "roster.toml"
MAX_AGENTS = 9999  # four-digit dial numbers; extensions 20001.. clear of the queue's DN 8000


def agent_id(i: int) -> str:
    return str(1000 + i)


def extension(i: int) -> str:
    return str(20000 + i)


def dial_number(i: int) -> str:
    return f"+1555123{i:04d}"


def roster_toml(n: int, push: int = 0, forced_logout: float = 0.0) -> str:
    """N agents in one team, one queue on DN 8000 holding them all; with `push`, that many
    more agents in a second queue, DN 8001 (the push benchmark's backgrounded agents).
    `forced_logout`: Finesse's window after a lost presence, if not its 60 s."""
    lines = ['[[teams]]\nid = "1"\nname = "Sales"\n']
    if forced_logout:
        lines.append(f"[timers]\nforced_logout = {forced_logout:g}\n")
    for i in range(1, n + push + 1):
        lines.append(
            f'[[agents]]\nid = "{agent_id(i)}"\npassword = "{PASSWORD}"\n'
            f'first_name = "Agent"\nlast_name = "A{agent_id(i)}"\n'
            f'extension = "{extension(i)}"\ndial_number = "{dial_number(i)}"\nteam = "1"\n'
        )
    members = ", ".join(f'"{agent_id(i)}"' for i in range(1, n + 1))
    lines.append(f'[[queues]]\nid = "1"\nname = "Sales"\ndn = "8000"\nagents = [{members}]\n')
    if push:
        members = ", ".join(f'"{agent_id(i)}"' for i in range(n + 1, n + push + 1))
        lines.append(f'[[queues]]\nid = "2"\nname = "Push"\ndn = "8001"\nagents = [{members}]\n')
    return "\n".join(lines)
