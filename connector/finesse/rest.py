"""The Finesse REST client (docs/finesse.md: REST basics, User, Dialogs, Errors), on aiohttp.

What it does on every request:

- HTTP Basic auth built per call from the agent's `Credentials` (one shared
  `aiohttp.ClientSession` serves every agent);
- GET sends `Accept: application/xml` and expects 200 with an XML body, parsed by
  `connector.finesse.codec` after `safexml` (no DTDs, size-capped);
- PUT/POST sends `Content-Type: application/xml` and a fresh `requestId` header
  (docs/finesse.md, REST basics: Finesse copies it into the notification the change causes, so the
  caller can recognise the outcome) and expects 202 (200 and 204 are accepted too); the method
  returns the requestId it sent;
- a refusal raises the typed error of `connector.finesse.errors`, built from the ApiErrors
  body; no answer at all (refused, reset, timeout) raises `FinesseConnectionError`;
- redirects are not followed: Finesse's 301 from plain HTTP to 8445 (docs/finesse.md, REST
  basics) is a configuration error to report, and following it could turn a POST into a GET;
- retries, with exponential backoff and full jitter, only for GET (idempotent), only on a
  503 or a connection failure, at most `retries` attempts in all. A PUT or POST is sent
  once: Finesse may have acted on it even when the answer was lost, and a state change or a
  call is not safe to repeat. 400/401/404 are never retried.

Hosts: requests go to `hosts.active`. A connection failure is reported to
`hosts.report_rest_failure()`; for a GET with attempts left the client then asks
`on_unreachable` (the FinesseMonitor's poll of this node and the alternate, docs/finesse.md,
Failover row 1), so the next attempt goes wherever `hosts.active` is then.

Logging (`connector.finesse.rest`, DEBUG): method, node, path, status and milliseconds.
Never a header, never a body, never a password.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from connector.finesse import codec
from connector.finesse.errors import (
    FinesseConnectionError,
    FinesseResponseError,
    FinesseTimeout,
    FinesseUnavailable,
    api_error_from_response,
)
from connector.finesse.failover import Hosts, normalize_base
from connector.finesse.models import (
    API,
    Action,
    Dialog,
    DialogRequest,
    MediaProperties,
    MobileAgent,
    ReasonCode,
    SystemInfo,
    Team,
    User,
    WrapUpReason,
)
from connector.finesse.safexml import FinesseXmlError, parse_xml

__all__ = ["Credentials", "FinesseRest", "new_request_id"]

log = logging.getLogger("connector.finesse.rest")

XML = "application/xml"
MAX_BODY = 4 * 1024 * 1024  # a Team with thousands of users still fits
_MAX_ERROR_BODY = 64 * 1024
_CHANGE_OK = frozenset({200, 202, 204})
T = TypeVar("T")


@dataclass(frozen=True)
class Credentials:
    """An agent's Finesse sign-in. The password never shows in repr, str or logs."""

    agent_id: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.agent_id or ":" in self.agent_id:
            # Basic auth is "id:password": an id with a colon cannot be sent.
            raise ValueError("agent id must be non-empty and must not contain ':'")


def new_request_id() -> str:
    return uuid.uuid4().hex


def _segment(value: str, what: str) -> str:
    """One URL path segment, percent-encoded: an id from a client can never climb the path
    (`../User/1002`) or add a query."""
    if value in ("", ".", ".."):
        raise ValueError(f"invalid {what}: {value!r}")
    return quote(value, safe="")


def _address(base: str) -> str:
    parts = urlsplit(base)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def _describe(exc: BaseException, timeout: float) -> str:
    """What went wrong, without anything a request carried (no URL userinfo, no headers)."""
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError and aiohttp's timeouts
        return f"no answer within {timeout:g} s"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection failed ({exc.os_error.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


class FinesseRest:
    """Finesse's REST API for any number of agents over one `aiohttp.ClientSession`.

    `timeout` bounds each attempt (connect, send, read the whole answer); `retries` is the
    number of attempts for a GET (>= 1); a retry waits a random time in
    [0, min(max_backoff, backoff * 2 ** (attempt - 1))] ("full jitter").
    """

    def __init__(
        self,
        http: aiohttp.ClientSession,
        hosts: Hosts,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        max_backoff: float = 2.0,
        max_body: int = MAX_BODY,
        rng: random.Random | None = None,
    ) -> None:
        if retries < 1:
            raise ValueError("retries counts attempts and must be at least 1")
        self.http = http
        self.hosts = hosts
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_body = max_body
        self._rng = rng or random.Random()
        # Asked after a request could not reach the active node: True when another node is
        # active now and the request may be retried there at once (the FinesseMonitor's
        # `rest_unreachable`). None: no failover, only retries with backoff.
        self.on_unreachable: Callable[[str], Awaitable[bool]] | None = None

    # -- the API ------------------------------------------------------------------------------

    async def system_info(
        self,
        base_url: str | None = None,
        *,
        creds: Credentials | None = None,
        timeout: float | None = None,
    ) -> SystemInfo:
        """`GET /finesse/api/SystemInfo` of `base_url` (one attempt: this is a poll of one
        node), or of the active node (with retries). No credentials are needed; they are
        sent when given. Reporting the answer is the caller's business (the monitor's)."""
        base = normalize_base(base_url) if base_url else None
        _, info = await self._get(
            "/SystemInfo",
            codec.parse_system_info,
            creds=creds,
            base_url=base,
            attempts=1 if base else None,
            timeout=timeout,
        )
        return info

    async def get_user(self, creds: Credentials) -> User:
        _, user = await self._get(self._user_path(creds), codec.parse_user, creds=creds)
        return user

    async def put_user(
        self,
        creds: Credentials,
        *,
        state: str,
        extension: str = "",
        reason_code_id: str = "",
        mobile_agent: MobileAgent | None = None,
        request_id: str | None = None,
    ) -> str:
        """`PUT /User/{id}`: LOGIN (with `extension`, and `mobile_agent` for a mobile agent),
        READY, NOT_READY or LOGOUT (with `reason_code_id` where codes are configured).
        Returns the requestId sent; the outcome arrives as a notification carrying it."""
        body = codec.user_request_to_xml(
            User(
                state=state,
                extension=extension,
                reason_code_id=str(reason_code_id) if reason_code_id else "",
                mobile_agent=mobile_agent,
            )
        )
        return await self._change("PUT", self._user_path(creds), body, creds, request_id)

    async def get_dialogs(self, creds: Credentials) -> list[Dialog]:
        path = self._user_path(creds, "/Dialogs")
        _, dialogs = await self._get(path, codec.parse_dialogs, creds=creds)
        return dialogs

    async def get_dialog(self, creds: Credentials, dialog_id: str) -> Dialog:
        path = f"/Dialog/{_segment(dialog_id, 'dialog id')}"
        _, dialog = await self._get(path, codec.parse_dialog, creds=creds)
        return dialog

    async def make_call(
        self,
        creds: Credentials,
        *,
        from_address: str,
        to_address: str,
        call_variables: dict[str, str] | None = None,
        request_id: str | None = None,
    ) -> str:
        """`POST /User/{id}/Dialogs` MAKE_CALL from the agent's extension (docs/finesse.md, Dialogs
        and their actions).
        Call variables are CCE only (UCCX refuses any mediaProperties)."""
        request = DialogRequest(
            requested_action=Action.MAKE_CALL,
            from_address=from_address,
            to_address=to_address,
            media_properties=(
                MediaProperties(call_variables=dict(call_variables)) if call_variables else None
            ),
        )
        body = codec.dialog_request_to_xml(request)
        path = self._user_path(creds, "/Dialogs")
        return await self._change("POST", path, body, creds, request_id)

    async def dialog_action(
        self,
        creds: Credentials,
        dialog_id: str,
        request: DialogRequest,
        request_id: str | None = None,
    ) -> str:
        """`PUT /Dialog/{id}` with `requestedAction` and its elements (docs/finesse.md, Dialogs and
        their actions)."""
        path = f"/Dialog/{_segment(dialog_id, 'dialog id')}"
        body = codec.dialog_request_to_xml(request)
        return await self._change("PUT", path, body, creds, request_id)

    async def reason_codes(self, creds: Credentials, category: str) -> list[ReasonCode]:
        """`GET /User/{id}/ReasonCodes?category=NOT_READY|LOGOUT` (the category is required)."""
        path = self._user_path(creds, "/ReasonCodes")
        _, codes = await self._get(
            path, codec.parse_reason_codes, creds=creds, params={"category": category}
        )
        return codes

    async def wrap_up_reasons(self, creds: Credentials) -> list[WrapUpReason]:
        path = self._user_path(creds, "/WrapUpReasons")
        _, reasons = await self._get(path, codec.parse_wrap_up_reasons, creds=creds)
        return reasons

    async def team(self, creds: Credentials, team_id: str) -> Team:
        path = f"/Team/{_segment(team_id, 'team id')}"
        _, team = await self._get(path, codec.parse_team, creds=creds)
        return team

    # -- plumbing -----------------------------------------------------------------------------

    @staticmethod
    def _user_path(creds: Credentials, suffix: str = "") -> str:
        return f"/User/{_segment(creds.agent_id, 'agent id')}{suffix}"

    async def _get(
        self,
        path: str,
        parse: Callable[..., T],
        *,
        creds: Credentials | None,
        params: dict[str, str] | None = None,
        base_url: str | None = None,
        attempts: int | None = None,
        timeout: float | None = None,
    ) -> tuple[str, T]:
        base, body = await self._send(
            "GET",
            path,
            creds=creds,
            params=params,
            base_url=base_url,
            attempts=attempts,
            timeout=timeout,
        )
        try:
            return base, parse(parse_xml(body, max_bytes=self.max_body))
        except FinesseXmlError as exc:
            raise FinesseResponseError(f"GET {path}: unexpected answer: {exc}") from None

    async def _change(
        self, method: str, path: str, body: str, creds: Credentials, request_id: str | None
    ) -> str:
        rid = request_id or new_request_id()
        await self._send(method, path, creds=creds, body=body, request_id=rid)
        return rid

    async def _send(
        self,
        method: str,
        path: str,
        *,
        creds: Credentials | None,
        body: str | None = None,
        params: dict[str, str] | None = None,
        request_id: str | None = None,
        base_url: str | None = None,
        attempts: int | None = None,
        timeout: float | None = None,
    ) -> tuple[str, bytes]:
        """One request with the retry policy; returns the base URL that answered and the
        body (b"" for a change)."""
        idempotent = method == "GET"
        tries = max(1, attempts or (self.retries if idempotent else 1))
        limit = timeout or self.timeout
        headers = {"Accept": XML}
        if not idempotent:
            headers["Content-Type"] = XML
            headers["requestId"] = request_id or new_request_id()
        if creds is not None:
            # RFC 7617 with UTF-8, built per call: one ClientSession serves every agent.
            headers["Authorization"] = aiohttp.encode_basic_auth(creds.agent_id, creds.password)
        for attempt in range(1, tries + 1):
            base = base_url or self.hosts.active
            url = URL(f"{base}{API}{path}", encoded=True)
            started = time.perf_counter()
            try:
                async with self.http.request(
                    method,
                    url,
                    params=params,
                    data=body.encode("utf-8") if body is not None else None,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=limit),
                    allow_redirects=False,
                ) as resp:
                    status, reason = resp.status, resp.reason
                    ok = status == 200 if idempotent else status in _CHANGE_OK
                    answer = await self._read(resp, ok, method, path)
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                ms = (time.perf_counter() - started) * 1000
                what = _describe(exc, limit)
                log.debug(
                    "%s %s %s -> %s in %.1f ms (attempt %d/%d)",
                    method,
                    _address(base),
                    path,
                    what,
                    ms,
                    attempt,
                    tries,
                )
                self.hosts.report_rest_failure(base)
                if attempt >= tries:
                    error = (
                        FinesseTimeout if isinstance(exc, TimeoutError) else FinesseConnectionError
                    )
                    raise error(
                        f"{method} {path}: cannot reach Finesse at {_address(base)}: {what}",
                        host=_address(base),
                    ) from None
                unreachable = self.on_unreachable
                if base_url is None and unreachable is not None and await unreachable(base):
                    continue  # another node is active now: no reason to wait
                await self._pause(attempt)
                continue
            ms = (time.perf_counter() - started) * 1000
            log.debug(
                "%s %s %s -> %d in %.1f ms (attempt %d/%d)",
                method,
                _address(base),
                path,
                status,
                ms,
                attempt,
                tries,
            )
            self.hosts.report_rest_success(base)
            if ok:
                return base, answer
            error = api_error_from_response(status, answer, reason)
            if isinstance(error, FinesseUnavailable) and attempt < tries:
                # OUT_OF_SERVICE (CTI failover): the same node comes back, docs/finesse.md,
                # Failover, third row.
                await self._pause(attempt)
                continue
            raise error
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read(self, resp: aiohttp.ClientResponse, ok: bool, method: str, path: str) -> bytes:
        """The body, capped: a success body over `max_body` is an error; an error body is
        only read far enough to find an ApiErrors document."""
        limit = self.max_body if ok else _MAX_ERROR_BODY
        if ok and resp.content_length is not None and resp.content_length > limit:
            raise FinesseResponseError(f"{method} {path}: answer of {resp.content_length} bytes")
        buf = bytearray()
        async for chunk in resp.content.iter_chunked(64 * 1024):
            buf += chunk
            if len(buf) > limit:
                if ok:
                    raise FinesseResponseError(f"{method} {path}: answer over {limit} bytes")
                break
        return bytes(buf)

    async def _pause(self, attempt: int) -> None:
        cap = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        await asyncio.sleep(self._rng.uniform(0, cap))
