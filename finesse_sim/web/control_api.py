"""`/sim/v1`: the harness's hand on the simulated world (JSON).

Customers' calls, handsets (by number: a mobile dial number, a desk extension or a
customer's phone), queues, the clock, faults and reset. Errors are
`{"error": {"type", "message", "field"?}}`, as in the connector's mobile API.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from connector.finesse.models import ApiErrorException, User
from finesse_sim.clock import MAX_SPEED
from finesse_sim.web.finesse_api import SIDE_KEY, SIM_KEY

if TYPE_CHECKING:
    from finesse_sim.runtime import Side, Simulator

log = logging.getLogger("finesse_sim.control")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BULK_AGENTS = 1000
FAULT_KINDS = (
    "xmpp_drop",
    "out_of_service",
    "lose_notifications",
    "rest_latency",
    "side_down",
    "finesse_down",
)


class ControlError(Exception):
    def __init__(self, status: int, type_: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.type, self.message, self.field = status, type_, message, field


def json_error(status: int, type_: str, message: str, field: str | None = None) -> web.Response:
    error: dict[str, str] = {"type": type_, "message": message}
    if field:
        error["field"] = field
    return web.json_response({"error": error}, status=status)


@web.middleware
async def side_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A side that is down answers nothing, even on a connection opened before it went
    down; the control API keeps its JSON errors."""
    side = request.app[SIDE_KEY]
    if (side.down or side.webapp_down) and request.path.startswith("/finesse/"):
        if request.transport is not None:
            request.transport.close()
        raise web.HTTPServiceUnavailable()
    if not request.path.startswith("/sim/"):
        return await handler(request)
    try:
        return await handler(request)
    except ControlError as exc:
        return json_error(exc.status, exc.type, exc.message, exc.field)
    except ApiErrorException as exc:
        return json_error(
            exc.status, exc.error.error_type, exc.error.error_message, exc.error.error_data or None
        )
    except web.HTTPNotFound:
        return json_error(404, "not_found", f"no such resource: {request.path}")
    except web.HTTPMethodNotAllowed:
        return json_error(405, "method_not_allowed", f"{request.method} {request.path}")
    except web.HTTPException:
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return json_error(500, "internal_error", "the simulator failed; see its log")


async def _json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ControlError(400, "invalid_json", f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ControlError(400, "invalid_json", "body must be a JSON object")
    return data


def _str_field(data: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None:
        if required:
            raise ControlError(400, "missing_field", f"{name} is required", name)
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ControlError(400, "invalid_field", f"{name} must be a string", name)
    return str(value)


def _number(data: dict[str, Any], name: str) -> float:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ControlError(400, "invalid_field", f"{name} must be a number", name)
    if not math.isfinite(value) or value < 0:
        raise ControlError(400, "invalid_field", f"{name} must be >= 0", name)
    return float(value)


def _sim(request: web.Request) -> Simulator:
    return request.app[SIM_KEY]


async def post_call(request: web.Request) -> web.Response:
    data = await _json(request)
    dn = _str_field(data, "dn")
    caller = _str_field(data, "from", required=False) or "+15550100"
    variables = data.get("callVariables") or {}
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise ControlError(
            400, "invalid_field", "callVariables maps names to strings", "callVariables"
        )
    sim = _sim(request)
    with sim.model_input():
        call_id = sim.model.inject_call(dn, caller, variables)
    return web.json_response({"callId": call_id}, status=201)


async def agents_state(request: web.Request) -> web.Response:
    """Many agents' state changes in one request, each exactly what the agent's own
    `PUT /User/{id}` with `<state>` (and `<reasonCodeId>`) would do: the same rules, one model
    input and one notification each, in list order. For load tests that need more changes
    a second than the REST API can take on one core (`mobagent bench --burst`), and for
    set-ups of many agents. An agent's outcome is `{"id", "status": 202, "monotonic"}` (the
    CLOCK_MONOTONIC seconds just after its notification was published) or `{"id",
    "status", "error": {"type", "message", "field"?}}`, the error its PUT would answer."""
    data = await _json(request)
    ids = data.get("agents")
    if (
        not isinstance(ids, list)
        or not 0 < len(ids) <= MAX_BULK_AGENTS
        or not all(isinstance(i, str) for i in ids)
    ):
        raise ControlError(
            400, "invalid_field", f"agents is a list of 1-{MAX_BULK_AGENTS} agent ids", "agents"
        )
    request_user = User(
        state=_str_field(data, "state"),
        reason_code_id=_str_field(data, "reasonCodeId", required=False),
    )
    sim = _sim(request)
    results: list[dict[str, Any]] = []
    for agent_id in ids:
        agent = sim.model.agent(agent_id)
        if agent is None:
            error = {"type": "not_found", "message": f"no agent {agent_id}"}
            results.append({"id": agent_id, "status": 404, "error": error})
            continue
        try:
            with sim.model_input():
                sim.model.put_user(agent, dataclasses.replace(request_user))
        except ApiErrorException as exc:
            error = {"type": exc.error.error_type, "message": exc.error.error_message}
            if exc.error.error_data:
                error["field"] = exc.error.error_data
            results.append({"id": agent_id, "status": exc.status, "error": error})
            continue
        results.append({"id": agent_id, "status": 202, "monotonic": time.monotonic()})
    return web.json_response({"results": results})


async def hangup_call(request: web.Request) -> web.Response:
    sim = _sim(request)
    with sim.model_input():
        sim.model.hangup_call(request.match_info["call_id"])
    return web.json_response({"callId": request.match_info["call_id"]})


async def phone_action(request: web.Request) -> web.Response:
    sim, number = _sim(request), request.match_info["number"]
    action = request.match_info["action"]
    with sim.model_input():
        if action == "answer":
            return web.json_response({"callId": sim.model.phone_answer(number)})
        if action == "reject":
            return web.json_response({"callId": sim.model.phone_reject(number)})
        return web.json_response({"callIds": sim.model.phone_hangup(number)})


async def phone_events(request: web.Request) -> web.WebSocketResponse:
    """Ring / connected / held / dtmf / ended events of one handset, as JSON messages."""
    sim, number = _sim(request), request.match_info["number"]
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    queue = sim.phones.add(number)
    try:
        await ws.send_json({"event": "subscribed", "number": number})
        reader = asyncio.ensure_future(ws.receive())
        while not ws.closed:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await ws.send_json(getter.result())
            else:
                getter.cancel()
            if reader in done:
                if reader.result().type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
                reader = asyncio.ensure_future(ws.receive())
        reader.cancel()
    finally:
        sim.phones.remove(number, queue)
    return ws


async def queues(request: web.Request) -> web.Response:
    return web.json_response({"queues": _sim(request).model.queue_stats()})


async def traffic(request: web.Request) -> web.Response:
    """Live traffic's counters (`mobagent sim --traffic PROFILE`), per queue and in total."""
    sim = _sim(request)
    if sim.traffic is None:
        raise ControlError(
            404, "no_traffic", "no traffic profile is attached (mobagent sim --traffic PROFILE)"
        )
    sim.clock.sync()
    return web.json_response(sim.traffic.snapshot())


async def reset(request: web.Request) -> web.Response:
    await _sim(request).reset()
    return web.json_response({"reset": True})


def _clock_body(sim: Simulator) -> dict[str, Any]:
    return {
        "speed": sim.clock.speed,
        "modelTime": sim.env.now,
        "timestamp": sim.model.timestamp(),
        "inService": sim.model.in_service,
        "notificationsPublished": sim.notifications_published,
    }


async def get_clock(request: web.Request) -> web.Response:
    sim = _sim(request)
    sim.clock.sync()
    return web.json_response(_clock_body(sim))


async def put_clock(request: web.Request) -> web.Response:
    sim = _sim(request)
    data = await _json(request)
    speed = _number(data, "speed")
    if not 0 < speed <= MAX_SPEED:
        raise ControlError(400, "invalid_field", f"speed must be > 0 and <= {MAX_SPEED:g}", "speed")
    sim.clock.set_speed(speed)
    return web.json_response(_clock_body(sim))


def _side(sim: Simulator, name: str) -> Side:
    side = sim.side(name)
    if side is None:
        raise ControlError(404, "unknown_side", f"no side {name!r} is running", "side")
    return side


async def post_fault(request: web.Request) -> web.Response:
    sim = _sim(request)
    data = await _json(request)
    kind = _str_field(data, "kind")
    if kind == "xmpp_drop":
        sim.drop_xmpp()
    elif kind == "out_of_service":
        sim.out_of_service(_number(data, "seconds"))
    elif kind == "lose_notifications":
        count = _number(data, "count")
        sim.model.notifications_to_lose += int(count)
    elif kind == "rest_latency":
        sim.rest_latency(int(_number(data, "ms")), _number(data, "seconds"))
    elif kind == "finesse_down":
        sim.finesse_down(
            _side(sim, _str_field(data, "side", required=False) or "A"), _number(data, "seconds")
        )
    elif kind == "side_down":
        side = _side(sim, _str_field(data, "side"))
        seconds = _number(data, "seconds")
        # Answer first: the side may be the one serving this request.
        asyncio.get_running_loop().call_soon(
            lambda: asyncio.ensure_future(sim.side_down(side, seconds))
        )
    else:
        raise ControlError(
            400, "invalid_field", f"kind must be one of {', '.join(FAULT_KINDS)}", "kind"
        )
    return web.json_response({"fault": kind, **{k: v for k, v in data.items() if k != "kind"}})


async def not_found(request: web.Request) -> web.Response:
    raise ControlError(404, "not_found", f"no such resource: {request.path}")


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/sim/v1/calls", post_call)
    r.add_post("/sim/v1/calls/{call_id}/hangup", hangup_call)
    r.add_post("/sim/v1/agents/state", agents_state)
    r.add_get("/sim/v1/phones/{number}/events", phone_events)
    r.add_post("/sim/v1/phones/{number}/{action:answer|reject|hangup}", phone_action)
    r.add_get("/sim/v1/queues", queues)
    r.add_get("/sim/v1/traffic", traffic)
    r.add_post("/sim/v1/reset", reset)
    r.add_get("/sim/v1/clock", get_clock)
    r.add_put("/sim/v1/clock", put_clock)
    r.add_post("/sim/v1/faults", post_fault)
    r.add_route("*", "/sim/v1/{tail:.*}", not_found)
