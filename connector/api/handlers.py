"""`/api/v1` handlers: parse the request, call one use case of `AgentService`, answer.

Commands answer `202 {"requestId"}`: Finesse's verdict arrives on the event stream with
that requestId, as it arrives from Finesse.
"""

from __future__ import annotations

from aiohttp import web

from connector.api import requests
from connector.errors import AgentError, Refusal
from connector.runtime import Connector
from connector.service.agents import AgentService
from connector.service.link import AgentLink

CONNECTOR: web.AppKey[Connector] = web.AppKey("connector")


def agents(request: web.Request) -> AgentService:
    return request.app[CONNECTOR].agents


async def caller(request: web.Request, *, websocket: bool = False) -> AgentLink:
    """The agent whose token the request carries (or 401)."""
    token = requests.token(request, websocket=websocket)
    if not token and "token" in request.query:
        raise AgentError(
            Refusal.UNAUTHORIZED,
            "send the token as 'Authorization: Bearer TOKEN': ?token= is taken only by the "
            "event WebSocket",
        )
    return await agents(request).authenticate(token)


def accepted(request_id: str) -> web.Response:
    return web.json_response({"requestId": request_id}, status=202)


# -- sessions -------------------------------------------------------------------------------


async def create_session(request: web.Request) -> web.Response:
    data = await requests.body(request, {"agentId", "password", "extension", "mobile"})
    agent_id = requests.text(data, "agentId")
    password = requests.text(data, "password")
    extension = requests.text(data, "extension")
    mobile = requests.mobile(data)
    connector = request.app[CONNECTOR]
    client = requests.client_address(request, connector.config.trusted_proxy_list)
    service = connector.agents
    token, link = await service.sign_in(agent_id, password, extension, mobile, client=client)
    return web.json_response(
        {
            "token": token,
            "agent": service.agent(link),
            "capabilities": {"callControl": link.session.call_control},
        },
        status=201,
    )


async def delete_session(request: web.Request) -> web.Response:
    link = await caller(request)
    data = await requests.body(request, {"reasonCodeId"})
    reason = requests.text(data, "reasonCodeId", required=False, number_ok=True)
    await agents(request).sign_out(link, reason)
    return web.json_response({"loggedOut": True})


# -- agent ----------------------------------------------------------------------------------


async def get_agent(request: web.Request) -> web.Response:
    return web.json_response(AgentService.agent(await caller(request)))


async def put_state(request: web.Request) -> web.Response:
    link = await caller(request)
    data = await requests.body(request, {"state", "reasonCodeId"})
    rid = await agents(request).set_state(link, data.get("state"), data.get("reasonCodeId"))
    return accepted(rid)


async def reason_codes(request: web.Request) -> web.Response:
    link = await caller(request)
    category = request.query.get("category", "")
    codes = await agents(request).reason_codes(link, category)
    return web.json_response(
        {
            "category": category,
            "reasonCodes": [{"id": c.id, "code": c.code, "label": c.label} for c in codes],
        }
    )


async def wrap_up_reasons(request: web.Request) -> web.Response:
    reasons = await agents(request).wrap_up_reasons(await caller(request))
    return web.json_response({"wrapUpReasons": [{"id": r.id, "label": r.label} for r in reasons]})


# -- dialogs --------------------------------------------------------------------------------


async def get_dialogs(request: web.Request) -> web.Response:
    return web.json_response({"dialogs": AgentService.dialogs(await caller(request))})


async def make_call(request: web.Request) -> web.Response:
    link = await caller(request)
    data = await requests.body(request, {"toAddress"})
    return accepted(await agents(request).make_call(link, data.get("toAddress")))


async def dialog_action(request: web.Request) -> web.Response:
    link = await caller(request)
    data = await requests.body(
        request, {"action", "toAddress", "dtmf", "wrapUpReason", "callVariables"}
    )
    rid = await agents(request).dialog_action(link, request.match_info["dialog_id"], data)
    return accepted(rid)


# -- push -----------------------------------------------------------------------------------


async def vapid_public_key(request: web.Request) -> web.Response:
    await caller(request)
    return web.json_response({"publicKey": request.app[CONNECTOR].push.vapid.public_key})


async def create_push_subscription(request: web.Request) -> web.Response:
    link = await caller(request)
    data = await requests.body(request, {"endpoint", "expirationTime", "keys"})
    endpoint, keys = requests.push_subscription(data)
    subscription = await request.app[CONNECTOR].push.subscribe(link.agent_id, endpoint, keys)
    return web.json_response({"id": subscription.id}, status=201)


async def delete_push_subscription(request: web.Request) -> web.Response:
    link = await caller(request)
    await request.app[CONNECTOR].push.unsubscribe(link.agent_id, request.match_info["id"])
    return web.Response(status=204)


async def put_app_state(request: web.Request) -> web.Response:
    link = await caller(request)
    visible = requests.flag(await requests.body(request, {"visible"}), "visible")
    await agents(request).app_state(link, visible)
    return web.json_response({"visible": visible})


# -- health ---------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers (200 whatever Finesse does), with what it knows."""
    connector = request.app[CONNECTOR]
    status, _ = connector.finesse_status()
    return web.json_response(
        {
            "status": "ok",
            "sessions": len(connector.agents.links),
            # Of them, with their notification session up (after a take-over: how far it is).
            "notificationsUp": sum(link.connected for link in connector.agents.links.values()),
            "finesse": connector.hosts.active,
            "finesseStatus": status,
        }
    )


async def readyz(request: web.Request) -> web.Response:
    """Readiness: 200 while the active Finesse node and the state store can serve sign-ins,
    else 503 and why (for a load balancer or an orchestrator)."""
    connector = request.app[CONNECTOR]
    status, reason = connector.finesse_status()
    body: dict[str, object] = {"ready": reason is None, "finesseStatus": status}
    state = connector.state.unavailable()
    if state is not None:
        body["ready"], body["stateStatus"] = False, "unavailable"
        reason = f"{reason}; {state}" if reason else state
    if reason is not None:
        body["reason"] = reason
    return web.json_response(body, status=200 if body["ready"] else 503)


async def metrics(request: web.Request) -> web.Response:
    connector = request.app[CONNECTOR]
    text = connector.metrics.render(
        sessions=len(connector.agents.links),
        websockets=connector.websockets,
        heap_settled=connector.gc_policy.settled,
        gc_full=connector.gc_policy.full_collections,
    )
    text += connector.push.metrics.render(subscriptions=await connector.push.subscriptions.count())
    return web.Response(text=text, content_type="text/plain", charset="utf-8")
