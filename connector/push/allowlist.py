"""Which push services the connector may send to: an allowlist of origins.

A subscription's endpoint is a URL the client chose. Without a list, anyone signed in could
make the connector POST to any address it can reach (an internal service, a cloud metadata
address): a server-side request forgery. So the connector sends only to the origins the
operator allows: by default the public push services of the major browsers, over https;
more with `push_allow` (`--push-allow ORIGIN`). Plain http is accepted only for a loopback
origin named there (the simulated push service of the lab), never by default.

An entry is `scheme://host[:port]`; a default entry may name every subdomain of a host
(`https://*.notify.windows.com`, where Edge's subscriptions live).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

from connector.errors import AgentError, Refusal

# Chrome (and Chromium browsers on Android), Firefox, Safari, Edge on Windows.
DEFAULT_PUSH_SERVICES = (
    "https://fcm.googleapis.com",
    "https://updates.push.services.mozilla.com",
    "https://web.push.apple.com",
    "https://*.notify.windows.com",
)
DEFAULT_PORTS = {"https": 443, "http": 80}
MAX_ENDPOINT = 1024  # the longest real endpoints (WNS) are about 500 characters


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL (the default port left out), or ValueError for a
    URL that is not a plain http(s) one: no user info, a host, a valid port."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) URL with a host")
    port = parts.port  # ValueError for a bad one
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


class Allowlist:
    def __init__(
        self, extra: Iterable[str] = (), *, defaults: Iterable[str] = DEFAULT_PUSH_SERVICES
    ) -> None:
        self.exact: set[str] = set()
        self.suffixes: list[str] = []  # ".notify.windows.com": https, default port only
        for entry in (*defaults, *extra):
            self.add(entry)

    def add(self, entry: str) -> None:
        entry = entry.strip().rstrip("/")
        if entry.startswith("https://*."):
            self.suffixes.append(entry.removeprefix("https://*").lower())
            return
        origin = origin_of(entry)  # ValueError for a bad entry
        parts = urlsplit(entry)
        if parts.path or parts.query or parts.fragment:
            raise ValueError(f"{entry!r} is not an origin (scheme://host[:port], no path)")
        if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
            raise ValueError(f"{entry!r}: plain http only for a loopback address")
        self.exact.add(origin)

    def origin(self, endpoint: str) -> str:
        """The push service's origin (the VAPID audience) of an allowed endpoint; an
        AgentError naming `endpoint` otherwise."""
        if len(endpoint) > MAX_ENDPOINT:
            raise AgentError(
                Refusal.INVALID_FIELD, f"endpoint is too long (at most {MAX_ENDPOINT})", "endpoint"
            )
        try:
            origin = origin_of(endpoint)
        except ValueError:
            raise AgentError(
                Refusal.INVALID_FIELD, "endpoint must be an https URL", "endpoint"
            ) from None
        if origin in self.exact:
            return origin
        host = urlsplit(endpoint).hostname or ""
        if origin == f"https://{host}" and any(host.endswith(s) for s in self.suffixes):
            return origin
        raise AgentError(
            Refusal.ENDPOINT_NOT_ALLOWED,
            f"push service {origin} is not one this connector sends to",
            "endpoint",
        )
