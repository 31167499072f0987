"""Connector configuration: defaults, then a TOML file, then environment, then flags.

Every option has an environment variable `MOBAGENT_CONNECTOR_<NAME>` (upper case), e.g.
`MOBAGENT_CONNECTOR_FINESSE=https://finesse1.example.com:8445`.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from connector.push.allowlist import Allowlist
from connector.store.sealing import Sealer, SealError
from mobagent import event_loop

ENV_PREFIX = "MOBAGENT_CONNECTOR_"
TLS_MODES = ("plain", "starttls", "direct")
STATE_SCHEMES = ("redis://", "rediss://", "unix://")


class ConfigError(ValueError):
    pass


@dataclass
class ConnectorConfig:
    finesse: str = "http://127.0.0.1:8445"  # primary Finesse node (base URL)
    finesse_secondary: str = ""  # secondary node, for failover
    xmpp_host: str = ""  # default: the Finesse node's host
    xmpp_port: int = 0  # default: from SystemInfo, else 5222 (5223 for direct TLS)
    xmpp_domain: str = ""  # default: SystemInfo xmppDomain
    xmpp_tls: str = "plain"  # plain | starttls | direct
    verify_tls: bool = True
    ca_file: str = ""  # a private CA for Finesse's certificates
    listen: str = "127.0.0.1:8080"
    max_sessions: int = 5000
    login_timeout: float = 30.0  # LOGIN to its outcome (a nailed connection rings first)
    request_timeout: float = 10.0
    token_ttl: float = 12 * 3600.0
    event_buffer: int = 1000  # replay buffer per agent
    max_body: int = 64 * 1024
    # One client cannot exhaust the connector (security.md): event WebSockets per agent (a
    # new one past the cap replaces the oldest), seconds a WebSocket's peer may leave what
    # we send untaken before it is aborted, seconds between heartbeat pings.
    max_websockets_per_agent: int = 4
    ws_send_timeout: float = 10.0
    ws_heartbeat: float = 30.0
    # Sign-in limits (security.md): failed sign-ins per agent id before the connector
    # refuses more (below Finesse's lock-out threshold, 5), within a window of seconds;
    # sign-ins per second and burst per client address (0: no limit); the proxies whose
    # X-Forwarded-For names the client (comma-separated addresses).
    login_failure_limit: int = 3
    login_failure_window: float = 300.0
    signin_rate: float = 2.0
    signin_burst: int = 20
    trusted_proxies: str = ""
    notification_auth_retry: float = 360.0  # s of refused credentials before giving up
    notification_give_up: float = 600.0  # s without a notification connection before giving up
    reconcile_interval: float = 60.0  # s: every agent re-read from Finesse once per (0: never)
    keepalive: float = 20.0
    resource: str = "mobileagent"
    gc_freeze_interval: float = 0.1  # s between freezes of young objects (0: never)
    gc_full_interval: float = 600.0  # s between full garbage collections (0: never)
    event_loop: str = "auto"  # auto (uvloop when installed) | uvloop | asyncio
    # Web Push (docs/connector.md, Push): where the VAPID key pair is kept (default
    # $XDG_STATE_HOME/mobagent), or a PEM file of the operator's; the contact the push
    # services see; origins allowed besides the major browsers' push services (http only
    # for loopback); subscriptions per agent (a new one past the cap replaces the oldest);
    # how long a call's push may wait at the push service (its ring time), other pushes'.
    state_dir: str = ""
    vapid_private_key: str = ""
    vapid_subject: str = "mailto:mobagent@localhost"
    push_allow: tuple[str, ...] = ()
    push_max_subscriptions: int = 4
    push_call_ttl: int = 30
    push_ttl: int = 600
    # Send pushes from a process of its own (connector/push/process.py): their encryption
    # and HTTP off the relay's event loop, on another core.
    push_process: bool = False

    @property
    def state_path(self) -> Path:
        if self.state_dir:
            return Path(self.state_dir).expanduser()
        base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
        return Path(base) / "mobagent"

    # Where sessions, tokens and event streams live (docs/connector.md, State): "" in this
    # process; redis://host:port/db shared, surviving a restart. Passwords in it are sealed
    # with `state_key` (base64url, 32 bytes; several comma-separated to rotate: the first
    # seals), which is never stored there.
    state: str = ""
    # s a process holds an agent's notification session without renewing (renewed every
    # third of it): how long its agents wait for another process after it dies or stalls.
    lease_ttl: float = 5.0
    state_key: str = field(default="", repr=False)

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0] or "127.0.0.1"

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def validate(self) -> ConnectorConfig:
        if self.xmpp_tls not in TLS_MODES:
            raise ConfigError(f"xmpp_tls must be one of {', '.join(TLS_MODES)}")
        if not self.finesse.startswith(("http://", "https://")):
            raise ConfigError("finesse must be a base URL such as https://finesse1:8445")
        if self.resource == "desktop":
            raise ConfigError("resource 'desktop' belongs to the Finesse desktop")
        port = self.listen.rpartition(":")[2]
        if not port.isdigit() or int(port) > 65535:
            raise ConfigError(f"listen must be HOST:PORT with a port 0-65535, not {self.listen!r}")
        if not 0 <= self.xmpp_port <= 65535:
            raise ConfigError(
                f"xmpp_port must be 0-65535 (0: from SystemInfo), not {self.xmpp_port}"
            )
        if self.ca_file and not os.path.isfile(self.ca_file):
            raise ConfigError(f"ca_file: {self.ca_file}: no such file")
        for name in (
            "max_sessions",
            "event_buffer",
            "max_body",
            "login_failure_limit",
            "max_websockets_per_agent",
            "ws_send_timeout",
            "ws_heartbeat",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0")
        if self.login_failure_window <= 0 or self.signin_burst <= 0:
            raise ConfigError("login_failure_window and signin_burst must be > 0")
        if self.notification_auth_retry < 0 or self.notification_give_up <= 0:
            raise ConfigError("notification_auth_retry must be >= 0, notification_give_up > 0")
        if self.reconcile_interval < 0:
            raise ConfigError("reconcile_interval must be >= 0 (0: never)")
        if self.signin_rate < 0:
            raise ConfigError("signin_rate must be >= 0 (0: no limit)")
        for name in ("gc_freeze_interval", "gc_full_interval"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0 (0: never)")
        try:
            event_loop.resolve(self.event_loop)
        except event_loop.EventLoopError as exc:
            raise ConfigError(str(exc)) from None
        if not self.vapid_subject.startswith(("mailto:", "https://")):
            raise ConfigError("vapid_subject must be a mailto: or https: URL")
        if self.vapid_private_key and not os.path.isfile(self.vapid_private_key):
            raise ConfigError(f"vapid_private_key: {self.vapid_private_key}: no such file")
        for name in ("push_max_subscriptions", "push_call_ttl", "push_ttl"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0")
        try:
            Allowlist(self.push_allow)
        except ValueError as exc:
            raise ConfigError(f"push_allow: {exc}") from exc
        for address in self.trusted_proxy_list:
            try:
                ipaddress.ip_address(address)
            except ValueError as exc:
                raise ConfigError(f"trusted_proxies: {address!r} is not an IP address") from exc
        self._validate_state()
        return self

    def _validate_state(self) -> None:
        if self.lease_ttl < 1:
            raise ConfigError("lease_ttl must be >= 1 s")
        if self.state in ("", "memory"):
            return
        if not self.state.startswith(STATE_SCHEMES):
            raise ConfigError(f"state must be memory or a redis:// URL, not {self.state!r}")
        if not self.state_key:
            raise ConfigError(
                "--state needs a key for the passwords it keeps: set "
                "MOBAGENT_CONNECTOR_STATE_KEY (mobagent connector --generate-state-key prints one)"
            )
        try:
            Sealer(self.state_key)
        except SealError as exc:
            raise ConfigError(f"state_key: {exc}") from exc

    @property
    def trusted_proxy_list(self) -> tuple[str, ...]:
        return tuple(a.strip() for a in self.trusted_proxies.split(",") if a.strip())


def _coerce(name: str, kind: Any, value: Any) -> Any:
    try:
        if kind in (bool, "bool"):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind in (int, "int"):
            return int(value)
        if kind in (float, "float"):
            return float(value)
        if kind == "tuple[str, ...]":  # a TOML list, or comma-separated in the environment
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(item).strip() for item in items if str(item).strip())
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: {value!r} is not a valid {kind}") from exc


def load(
    file: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ConnectorConfig:
    config = ConnectorConfig()
    kinds = {f.name: f.type for f in fields(ConnectorConfig)}
    layers: list[dict[str, Any]] = []
    if file:
        try:
            data = tomllib.loads(Path(file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{file}: {exc}") from exc
        table = data.get("connector", data)
        unknown = set(table) - set(kinds)
        if unknown:
            raise ConfigError(f"{file}: unknown options {sorted(unknown)}")
        layers.append(table)
    env = os.environ if env is None else env
    layers.append(
        {name: env[ENV_PREFIX + name.upper()] for name in kinds if ENV_PREFIX + name.upper() in env}
    )
    layers.append({k: v for k, v in (overrides or {}).items() if v is not None})
    for layer in layers:
        for name, value in layer.items():
            setattr(config, name, _coerce(name, kinds[name], value))
    return config.validate()
