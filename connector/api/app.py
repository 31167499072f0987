"""`/api/v1`: the mobile API (DESIGN.md), an aiohttp app over the Connector.

Handlers parse JSON, check it, call the connector and answer; every error is
`{"error": {"type", "message", "field"?}}`. Where Finesse refused, its ErrorType passes
through (e.g. "Invalid State") with Finesse's HTTP status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from connector.api.stream import Reader
from connector.finesse.errors import (
    FinesseApiError,
    FinesseConnectionError,
    FinesseError,
    FinesseUnauthorized,
)
from connector.finesse.models import AgentState, DialogRequest
from connector.runtime import AgentLink, Connector, LoginFailed, Mobile, describe
from connector.session.agent_session import CommandError

log = logging.getLogger("connector.api")
CONNECTOR: web.AppKey[Connector] = web.AppKey("connector")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MOBILE_MODES = ("CALL_BY_CALL", "NAILED_CONNECTION")
WS_MAX_MESSAGE = 4096  # the app sends nothing but pings and close frames


class ApiError(Exception):
    def __init__(self, status: int, type_: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.type, self.message, self.field = status, type_, message, field


def error_response(status: int, type_: str, message: str, field: str | None = None):
    error: dict[str, str] = {"type": type_, "message": message}
    if field:
        error["field"] = field
    return web.json_response({"error": error}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    connector = request.app[CONNECTOR]
    try:
        return await handler(request)
    except (ApiError, CommandError, LoginFailed) as exc:
        return error_response(exc.status, exc.type, exc.message, exc.field)
    except FinesseApiError as exc:
        connector.count_error(exc.error_type)
        return error_response(
            exc.status, exc.error_type, exc.error_message or exc.error_type, exc.error_data or None
        )
    except FinesseConnectionError:
        connector.count_error("connection")
        return error_response(502, "finesse_unreachable", "Finesse cannot be reached")
    except FinesseError as exc:
        connector.count_error(type(exc).__name__)
        return error_response(502, "finesse_error", str(exc))
    except web.HTTPRequestEntityTooLarge:
        return error_response(413, "body_too_large", "the request body is too large")
    except web.HTTPNotFound:
        return error_response(404, "not_found", f"no such resource: {request.path}")
    except web.HTTPMethodNotAllowed:
        return error_response(405, "method_not_allowed", f"{request.method} {request.path}")
    except web.HTTPException:
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "the connector failed; see its log")


# -- request parsing ------------------------------------------------------------------------


async def body(request: web.Request, allowed: set[str]) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "body must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field {unknown[0]!r}", unknown[0])
    return data


def text(data: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ApiError(400, "missing_field", f"{name} is required", name)
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ApiError(400, "invalid_field", f"{name} must be a string", name)
    return str(value)


def token_of(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if "token" in request.query:
        return request.query["token"]
    # Browsers cannot set headers on a WebSocket: `Sec-WebSocket-Protocol: bearer, TOKEN`.
    protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    if len(protocols) == 2 and protocols[0] == "bearer":
        return protocols[1]
    return ""


def link_of(request: web.Request) -> AgentLink:
    token = token_of(request)
    link = request.app[CONNECTOR].link_for_token(token) if token else None
    if link is None:
        raise ApiError(401, "unauthorized", "a valid session token is required")
    return link


def accepted(request_id: str) -> web.Response:
    return web.json_response({"requestId": request_id}, status=202)


# -- sessions -------------------------------------------------------------------------------


async def create_session(request: web.Request) -> web.Response:
    data = await body(request, {"agentId", "password", "extension", "mobile"})
    agent_id = text(data, "agentId")
    password = text(data, "password")
    extension = text(data, "extension")
    mobile = None
    if data.get("mobile") is not None:
        raw = data["mobile"]
        if not isinstance(raw, dict) or set(raw) - {"mode", "dialNumber"}:
            raise ApiError(400, "invalid_field", "mobile is {mode, dialNumber}", "mobile")
        mode = text(raw, "mode")
        if mode not in MOBILE_MODES:
            raise ApiError(400, "invalid_field", f"mode must be one of {MOBILE_MODES}", "mode")
        mobile = Mobile(mode, text(raw, "dialNumber"))
    connector = request.app[CONNECTOR]
    try:
        token, link, _ = await connector.open_session(agent_id, password, extension, mobile)
    except FinesseUnauthorized as exc:
        raise ApiError(
            401, exc.error_type or "Authorization Failure", "wrong agent id or password"
        ) from exc
    return web.json_response(
        {
            "token": token,
            "agent": describe(link),
            "capabilities": {"callControl": link.core.call_control},
        },
        status=201,
    )


async def delete_session(request: web.Request) -> web.Response:
    link = link_of(request)
    data = await body(request, {"reasonCodeId"})
    reason = text(data, "reasonCodeId", required=False)
    await request.app[CONNECTOR].close_session(link, reason)
    return web.json_response({"loggedOut": True})


# -- agent ----------------------------------------------------------------------------------


async def get_agent(request: web.Request) -> web.Response:
    return web.json_response(describe(link_of(request)))


async def put_state(request: web.Request) -> web.Response:
    link = link_of(request)
    data = await body(request, {"state", "reasonCodeId"})
    state, reason = link.core.check_state(data.get("state"), data.get("reasonCodeId"))
    rid = await request.app[CONNECTOR].rest.put_user(link.creds, state=state, reason_code_id=reason)
    return accepted(rid)


async def reason_codes(request: web.Request) -> web.Response:
    link = link_of(request)
    category = request.query.get("category", "")
    if category not in (AgentState.NOT_READY, AgentState.LOGOUT):
        raise ApiError(400, "invalid_field", "category must be NOT_READY or LOGOUT", "category")
    codes = await request.app[CONNECTOR].rest.reason_codes(link.creds, category)
    return web.json_response(
        {
            "category": category,
            "reasonCodes": [{"id": c.id, "code": c.code, "label": c.label} for c in codes],
        }
    )


async def wrap_up_reasons(request: web.Request) -> web.Response:
    link = link_of(request)
    reasons = await request.app[CONNECTOR].rest.wrap_up_reasons(link.creds)
    return web.json_response({"wrapUpReasons": [{"id": r.id, "label": r.label} for r in reasons]})


# -- dialogs --------------------------------------------------------------------------------


async def get_dialogs(request: web.Request) -> web.Response:
    link = link_of(request)
    return web.json_response(
        {"dialogs": [link.core.dialog_json(d) for d in link.core.dialogs.values()]}
    )


async def make_call(request: web.Request) -> web.Response:
    link = link_of(request)
    data = await body(request, {"toAddress"})
    to = link.core.check_make_call(data.get("toAddress"))
    rid = await request.app[CONNECTOR].rest.make_call(
        link.creds, from_address=link.core.extension, to_address=to
    )
    return accepted(rid)


async def dialog_action(request: web.Request) -> web.Response:
    link = link_of(request)
    data = await body(request, {"action", "toAddress", "dtmf", "wrapUpReason", "callVariables"})
    req: DialogRequest = link.core.check_action(request.match_info["dialog_id"], data)
    rid = await request.app[CONNECTOR].rest.dialog_action(
        link.creds, request.match_info["dialog_id"], req
    )
    return accepted(rid)


# -- events ---------------------------------------------------------------------------------


async def events(request: web.Request) -> web.WebSocketResponse:
    """The agent's event stream; `?since=SEQ` resumes after the last event the app saw."""
    link = link_of(request)
    since_text = request.query.get("since")
    since = None
    if since_text is not None:
        if not since_text.isdigit():
            raise ApiError(400, "invalid_field", "since must be a sequence number", "since")
        since = int(since_text)
    protocols = ("bearer",) if "bearer" in request.headers.get("Sec-WebSocket-Protocol", "") else ()
    ws = web.WebSocketResponse(
        heartbeat=30, compress=False, max_msg_size=WS_MAX_MESSAGE, protocols=protocols
    )
    await ws.prepare(request)
    connector = request.app[CONNECTOR]
    connector.websockets += 1
    # Two tasks for the connection's lifetime, none per event: one sends the stream, the
    # other reads what the app sends (close frames, pings). Either ending ends both.
    sender = asyncio.ensure_future(_send_events(ws, link.stream.reader(since), connector))
    receiver = asyncio.ensure_future(_drain_client(ws))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        sender.cancel()
        receiver.cancel()
        connector.websockets -= 1
        await ws.close()
    for task in (sender, receiver):  # retrieved: a failure is logged once, here
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning("event stream of %s ended: %r", link.agent_id, task.exception())
    return ws


async def _send_events(ws: web.WebSocketResponse, reader: Reader, connector: Connector) -> None:
    """Send the stream until the session ends (an empty batch) or the app goes away."""
    latency = connector.metrics.latency
    try:
        while not ws.closed:
            batch = reader.take()
            if not batch:
                if reader.ended:
                    return
                await reader.wait()
                continue
            now = time.time()
            for frame in batch:
                latency.observe(max(0.0, now - frame.ts))
                await ws.send_str(frame.text)
            del batch, frame  # not kept alive while waiting for the next event
    except ConnectionResetError:
        pass


async def _drain_client(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the app sends, so close frames and pings are handled."""
    async for message in ws:
        if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            break


# -- health ---------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    connector = request.app[CONNECTOR]
    return web.json_response(
        {"status": "ok", "sessions": len(connector.links), "finesse": connector.hosts.active}
    )


async def metrics(request: web.Request) -> web.Response:
    connector = request.app[CONNECTOR]
    text_ = connector.metrics.render(
        sessions=len(connector.links),
        websockets=connector.websockets,
        heap_settled=connector.heap.settled,
        gc_full=connector.heap.full_collections,
    )
    return web.Response(text=text_, content_type="text/plain", charset="utf-8")


async def not_found(request: web.Request) -> web.Response:
    raise ApiError(404, "not_found", f"no such resource: {request.path}")


def make_app(connector: Connector) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=connector.config.max_body)
    app[CONNECTOR] = connector

    async def on_startup(_app: web.Application) -> None:
        await connector.start()

    async def on_cleanup(_app: web.Application) -> None:
        await connector.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    r = app.router
    r.add_post("/api/v1/sessions", create_session)
    r.add_delete("/api/v1/sessions/current", delete_session)
    r.add_get("/api/v1/agent", get_agent)
    r.add_put("/api/v1/agent/state", put_state)
    r.add_get("/api/v1/reason-codes", reason_codes)
    r.add_get("/api/v1/wrapup-reasons", wrap_up_reasons)
    r.add_get("/api/v1/dialogs", get_dialogs)
    r.add_post("/api/v1/dialogs", make_call)
    r.add_post("/api/v1/dialogs/{dialog_id}/actions", dialog_action)
    r.add_get("/api/v1/events", events)
    r.add_get("/healthz", healthz)
    r.add_get("/metrics", metrics)
    r.add_route("*", "/api/{tail:.*}", not_found)
    return app
