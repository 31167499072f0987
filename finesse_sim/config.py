"""The simulator's world: roster (agents, teams, queues, devices), codes and timers.

Loaded from a TOML file (see `examples/roster.toml`) or, with no file, the built-in default
roster that documentation and tests rely on: agents 1001-1010 with password `password`,
extensions 5001-5010, dial numbers +15551230001-+15551230010, team 1 "Sales", queue "Sales"
on DN 8000. Names come from faker with a fixed seed, so they never change between runs.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.finesse.models import ReasonCode, WrapUpMode, WrapUpReason

DEFAULT_PASSWORD = "password"


@dataclass(slots=True)
class AgentConfig:
    id: str
    password: str
    first_name: str
    last_name: str
    login_name: str
    extension: str  # the agent's usual desk extension (any configured device may be used)
    dial_number: str  # the agent's mobile phone, for documentation and the swarm
    team_id: str
    roles: list[str] = field(default_factory=lambda: ["Agent"])


@dataclass(slots=True)
class TeamConfig:
    id: str
    name: str


@dataclass(slots=True)
class QueueConfig:
    id: str
    name: str
    dn: str
    agents: list[str]  # agent ids that serve the queue (skill group members)


@dataclass(slots=True)
class Timers:
    """Every timer in model seconds (the clock's speed factor scales them all)."""

    wrap_up: float = 60.0
    ring_no_answer: float = 15.0
    forced_logout: float = 60.0  # presence lost -> forced logout (docs/finesse.md, Forced logout)
    lockout: float = 300.0  # 5 bad passwords -> locked for 5 minutes
    external_answer: float = 1.0  # an outside number answers after this; < 0: only by hand
    network: float = 0.02  # one CTI hop (INITIATED -> ALERTING, ...)


@dataclass(slots=True)
class SystemCodes:
    """System reason codes (docs/finesse.md, Agent states): used by the system, never listed."""

    forced_logout: str = "255"
    made_call_from_ready: str = "50006"
    # UCCE: 32767 "did not answer" (redirection on no answer); UCCX uses 32763 AGT_RNA.
    ring_no_answer: str | None = None

    def rona_code(self, deployment: str) -> str:
        if self.ring_no_answer:
            return self.ring_no_answer
        return "32763" if deployment == "UCCX" else "32767"


@dataclass(slots=True)
class SimConfig:
    agents: list[AgentConfig]
    teams: list[TeamConfig]
    queues: list[QueueConfig]
    reason_codes: list[ReasonCode]
    wrap_up_reasons: list[WrapUpReason]
    extra_devices: list[str] = field(default_factory=list)
    deployment: str = "UCCE"  # UCCE | UCCX
    xmpp_domain: str = "finesse-a.sim.local"
    secondary_xmpp_domain: str = "finesse-b.sim.local"
    wrap_up_on_incoming: str = WrapUpMode.REQUIRED
    wrap_up_on_outgoing: str = WrapUpMode.OPTIONAL
    timers: Timers = field(default_factory=Timers)
    system_codes: SystemCodes = field(default_factory=SystemCodes)
    lockout_attempts: int = 5
    # With TLS on, SASL in the clear before STARTTLS: what Finesse before 12.5 (or one set
    # up so) allows. Off by default, as Finesse 12.5+ requires STARTTLS.
    allow_plaintext_auth: bool = False
    # Extra participant actions real servers show on an ACTIVE agent participant beyond the
    # documented table (docs/finesse.md, Dialogs and their actions: TRANSFER_SST and SEND_DTMF are
    # seen in the wild).
    active_extra_actions: list[str] = field(default_factory=lambda: ["TRANSFER_SST", "SEND_DTMF"])

    @property
    def devices(self) -> set[str]:
        """Extensions CTI knows: an agent's login must name one of them (Invalid Device)."""
        return {a.extension for a in self.agents} | set(self.extra_devices)

    def agent(self, agent_id: str) -> AgentConfig | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def team(self, team_id: str) -> TeamConfig | None:
        return next((t for t in self.teams if t.id == team_id), None)

    def reason_code(self, category: str, reason_code_id: str) -> ReasonCode | None:
        return next(
            (r for r in self.reason_codes if r.category == category and r.id == reason_code_id),
            None,
        )

    def reason_codes_for(self, category: str) -> list[ReasonCode]:
        return [r for r in self.reason_codes if r.category == category]


def default_config() -> SimConfig:
    """The built-in roster. Deterministic: faker is seeded."""
    from faker import Faker

    fake = Faker("en_US")
    fake.seed_instance(2024)
    agents = []
    for i in range(1, 11):
        first, last = fake.first_name(), fake.last_name()
        agents.append(
            AgentConfig(
                id=f"{1000 + i}",
                password=DEFAULT_PASSWORD,
                first_name=first,
                last_name=last,
                login_name=f"{first[0]}{last}".lower(),
                extension=f"{5000 + i}",
                dial_number=f"+1555123{i:04d}",
                team_id="1",
            )
        )
    return SimConfig(
        agents=agents,
        teams=[TeamConfig(id="1", name="Sales")],
        queues=[QueueConfig(id="1", name="Sales", dn="8000", agents=[a.id for a in agents])],
        reason_codes=[
            ReasonCode(id="1", category="NOT_READY", code="1", label="Break"),
            ReasonCode(id="2", category="NOT_READY", code="2", label="Lunch"),
            ReasonCode(id="3", category="LOGOUT", code="3", label="End of shift"),
        ],
        wrap_up_reasons=[
            WrapUpReason(id="1", label="Resolved"),
            WrapUpReason(id="2", label="Escalated"),
        ],
    )


class ConfigError(ValueError):
    """The roster file is wrong: the message names the key."""


def load_config(path: str | Path | None) -> SimConfig:
    if path is None:
        return default_config()
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return config_from_dict(data)


def _req(table: dict[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise ConfigError(f"{where}: missing key {key!r}")
    return table[key]


def _flag(table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"settings.{key}: {value!r} is not true or false")
    return value


def config_from_dict(data: dict[str, Any]) -> SimConfig:
    """Build a config from parsed TOML; anything left out takes the default roster's value."""
    base = default_config()
    settings = data.get("settings", {})
    agents = base.agents
    if "agents" in data:
        agents = []
        for n, a in enumerate(data["agents"]):
            where = f"agents[{n}]"
            first = str(a.get("first_name", f"Agent{_req(a, 'id', where)}"))
            last = str(a.get("last_name", ""))
            agents.append(
                AgentConfig(
                    id=str(a["id"]),
                    password=str(a.get("password", DEFAULT_PASSWORD)),
                    first_name=first,
                    last_name=last,
                    login_name=str(a.get("login_name", f"{first[:1]}{last}".lower())),
                    extension=str(_req(a, "extension", where)),
                    dial_number=str(a.get("dial_number", "")),
                    team_id=str(a.get("team", "1")),
                    roles=list(a.get("roles", ["Agent"])),
                )
            )
    teams = base.teams
    if "teams" in data:
        teams = [
            TeamConfig(id=str(_req(t, "id", "teams")), name=str(t["name"])) for t in data["teams"]
        ]
    queues = [
        QueueConfig(id=q.id, name=q.name, dn=q.dn, agents=[a.id for a in agents])
        for q in base.queues
    ]
    if "queues" in data:
        queues = []
        for n, q in enumerate(data["queues"]):
            members = [str(m) for m in q.get("agents", [a.id for a in agents])]
            queues.append(
                QueueConfig(
                    id=str(q.get("id", n + 1)),
                    name=str(_req(q, "name", f"queues[{n}]")),
                    dn=str(_req(q, "dn", f"queues[{n}]")),
                    agents=members,
                )
            )
    reason_codes = base.reason_codes
    if "reason_codes" in data:
        reason_codes = [
            ReasonCode(
                id=str(r.get("id", r["code"])),
                category=str(_req(r, "category", "reason_codes")),
                code=str(_req(r, "code", "reason_codes")),
                label=str(_req(r, "label", "reason_codes")),
                for_all=bool(r.get("for_all", True)),
            )
            for r in data["reason_codes"]
        ]
    wrap_up_reasons = base.wrap_up_reasons
    if "wrap_up_reasons" in data:
        wrap_up_reasons = [
            WrapUpReason(id=str(w.get("id", n + 1)), label=str(_req(w, "label", "wrap_up_reasons")))
            for n, w in enumerate(data["wrap_up_reasons"])
        ]
    timer_names = set(Timers.__dataclass_fields__)
    unknown_timers = set(data.get("timers", {})) - timer_names
    if unknown_timers:
        raise ConfigError(f"timers: unknown {sorted(unknown_timers)}; known {sorted(timer_names)}")
    try:
        timers = Timers(**{k: float(v) for k, v in data.get("timers", {}).items()})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"timers: {exc}") from exc
    deployment = str(settings.get("deployment", "UCCE")).upper()
    if deployment not in ("UCCE", "UCCX"):
        raise ConfigError(f"settings.deployment: {deployment!r} is not UCCE or UCCX")
    for key in ("wrap_up_on_incoming", "wrap_up_on_outgoing"):
        if key in settings and settings[key] not in WrapUpMode.__members__:
            raise ConfigError(f"settings.{key}: {settings[key]!r} is not a wrap-up mode")
    config = SimConfig(
        agents=agents,
        teams=teams,
        queues=queues,
        reason_codes=reason_codes,
        wrap_up_reasons=wrap_up_reasons,
        extra_devices=[str(d) for d in data.get("devices", [])],
        deployment=deployment,
        xmpp_domain=str(settings.get("xmpp_domain", base.xmpp_domain)),
        secondary_xmpp_domain=str(
            settings.get("secondary_xmpp_domain", base.secondary_xmpp_domain)
        ),
        wrap_up_on_incoming=str(settings.get("wrap_up_on_incoming", base.wrap_up_on_incoming)),
        wrap_up_on_outgoing=str(settings.get("wrap_up_on_outgoing", base.wrap_up_on_outgoing)),
        timers=timers,
        lockout_attempts=int(settings.get("lockout_attempts", 5)),
        allow_plaintext_auth=_flag(settings, "allow_plaintext_auth", base.allow_plaintext_auth),
    )
    team_ids = {t.id for t in config.teams}
    for a in config.agents:
        if a.team_id not in team_ids:
            raise ConfigError(f"agent {a.id}: unknown team {a.team_id!r}")
    ids = [a.id for a in config.agents]
    if len(set(ids)) != len(ids):
        raise ConfigError("agents: duplicate agent id")
    for q in config.queues:
        unknown = set(q.agents) - set(ids)
        if unknown:
            raise ConfigError(f"queue {q.name!r}: unknown agents {sorted(unknown)}")
    return config
