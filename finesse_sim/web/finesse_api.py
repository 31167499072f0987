"""`/finesse/api`: Finesse's REST API over the contact-centre model (docs/finesse.md).

Handlers parse XML, call the model and answer in Finesse's shapes: 200 with the object on
GET, 202 with an empty body on state changes, an `ApiErrors` body on every refusal.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from connector.finesse import codec
from connector.finesse.models import ApiError, ApiErrorException, DialogRequest
from connector.finesse.safexml import FinesseXmlError

if TYPE_CHECKING:
    from finesse_sim.model.calls import Agent
    from finesse_sim.runtime import Side, Simulator

log = logging.getLogger("finesse_sim.rest")
XML = "application/xml"
XML_TYPES = frozenset({"application/xml", "text/xml"})
MAX_BODY = 64 * 1024
SIM_KEY: web.AppKey[Simulator] = web.AppKey("sim")
SIDE_KEY: web.AppKey[Side] = web.AppKey("side")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(status: int, error: ApiError) -> web.Response:
    return web.Response(status=status, text=codec.api_errors_to_xml([error]), content_type=XML)


def xml_response(text: str) -> web.Response:
    return web.Response(text=text, content_type=XML)


ACCEPTED = 202


@web.middleware
async def finesse_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure in Finesse's error shape: never a traceback, never an HTML page."""
    if not request.path.startswith("/finesse/"):
        return await handler(request)
    sim = request.app[SIM_KEY]
    try:
        if sim.rest_latency_ms > 0:
            await asyncio.sleep(sim.rest_latency_ms / 1000)
        if not sim.model.in_service and request.path != "/finesse/api/SystemInfo":
            return error_response(503, ApiError("Service Unavailable", "SERVER_OUT_OF_SERVICE", ""))
        return await handler(request)
    except ApiErrorException as exc:
        return error_response(exc.status, exc.error)
    except FinesseXmlError as exc:
        return error_response(400, ApiError("Bad Request", str(exc), ""))
    except web.HTTPRequestEntityTooLarge:
        return error_response(400, ApiError("Bad Request", "Request body too large", ""))
    except web.HTTPNotFound:
        return error_response(404, ApiError("Not Found", "Resource not found", request.path))
    except web.HTTPMethodNotAllowed:
        return error_response(
            405, ApiError("Method Not Allowed", f"{request.method} is not supported", request.path)
        )
    except web.HTTPException:
        raise
    except Exception:
        # A simulator bug must still answer in Finesse's shape (docs/finesse.md, Errors: 500).
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(
            500, ApiError("Internal Server Error", "RUNTIME_EXCEPTION", request.path)
        )


def _credentials(request: web.Request) -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise ApiErrorException(401, ApiError("Authorization Failure", "UNAUTHORIZED", ""))
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):  # binascii.Error, non-ASCII header text
        user, sep, password = "", "", ""
    if not sep:
        raise ApiErrorException(401, ApiError("Authorization Failure", "UNAUTHORIZED", ""))
    return user, password


def _caller(request: web.Request) -> Agent:
    sim = request.app[SIM_KEY]
    user, password = _credentials(request)
    with sim.model_input():
        return sim.model.authenticate(user, password)


def _self(request: web.Request) -> Agent:
    """The authenticated agent, who must be the `{id}` of the URL (id or loginName)."""
    agent = _caller(request)
    target = request.match_info["id"]
    if target not in (agent.id, agent.cfg.login_name):
        raise ApiErrorException(
            401, ApiError("Invalid Authorization User Specified", "UNAUTHORIZED", target)
        )
    return agent


async def _body(request: web.Request) -> bytes:
    if request.content_type not in XML_TYPES:
        # Finesse's resources consume application/xml (a JAX-RS @Consumes): anything else is
        # refused before it is read.
        raise ApiErrorException(
            415,
            ApiError("Unsupported Media Type", "Content-Type must be application/xml", ""),
        )
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiErrorException(400, ApiError("Bad Request", "Request body too large", ""))
    body = await request.read()
    if not body.strip():
        raise ApiErrorException(400, ApiError("Bad Request", "Request body is empty", ""))
    return body


def _request_id(request: web.Request) -> str:
    return request.headers.get("requestId", "")


async def system_info(request: web.Request) -> web.Response:
    sim, side = request.app[SIM_KEY], request.app[SIDE_KEY]
    return xml_response(codec.system_info_to_xml(sim.system_info(side)))


async def get_user(request: web.Request) -> web.Response:
    agent = _self(request)
    return xml_response(codec.user_to_xml(request.app[SIM_KEY].model.user(agent)))


async def put_user(request: web.Request) -> web.Response:
    agent = _self(request)
    req = codec.parse_user(await _body(request))
    sim = request.app[SIM_KEY]
    with sim.model_input():
        sim.model.put_user(agent, req, _request_id(request))
    return web.Response(status=ACCEPTED)


async def get_dialogs(request: web.Request) -> web.Response:
    agent = _self(request)
    return xml_response(codec.dialogs_to_xml(request.app[SIM_KEY].model.dialogs(agent)))


def _dialog_request(body: bytes) -> DialogRequest:
    try:
        return codec.parse_dialog_request(body)
    except FinesseXmlError as exc:
        if "duplicate" in str(exc).lower():
            raise ApiErrorException(
                400, ApiError("Invalid Input", str(exc), "callvariables")
            ) from exc
        raise


async def post_dialog(request: web.Request) -> web.Response:
    agent = _self(request)
    req = _dialog_request(await _body(request))
    sim = request.app[SIM_KEY]
    with sim.model_input():
        sim.model.make_call(agent, req, _request_id(request))
    return web.Response(status=ACCEPTED)


async def get_dialog(request: web.Request) -> web.Response:
    agent = _caller(request)
    dialog = request.app[SIM_KEY].model.dialog(agent, request.match_info["dialog_id"])
    return xml_response(codec.dialog_to_xml(dialog))


async def put_dialog(request: web.Request) -> web.Response:
    agent = _caller(request)
    req = _dialog_request(await _body(request))
    sim = request.app[SIM_KEY]
    with sim.model_input():
        sim.model.dialog_action(agent, request.match_info["dialog_id"], req, _request_id(request))
    return web.Response(status=ACCEPTED)


async def reason_codes(request: web.Request) -> web.Response:
    _self(request)
    category = request.query.get("category")
    codes = request.app[SIM_KEY].model.reason_codes(category)
    return xml_response(codec.reason_codes_to_xml(codes, category or ""))


async def reason_code(request: web.Request) -> web.Response:
    _self(request)
    wanted = request.match_info["code_id"]
    for code in request.app[SIM_KEY].model.config.reason_codes:
        if code.id == wanted:
            return xml_response(codec.reason_code_to_xml(code))
    raise ApiErrorException(404, ApiError("Not Found", "Invalid reasonCodeId", wanted))


async def wrap_up_reasons(request: web.Request) -> web.Response:
    _self(request)
    reasons = request.app[SIM_KEY].model.config.wrap_up_reasons
    return xml_response(codec.wrap_up_reasons_to_xml(reasons))


async def team(request: web.Request) -> web.Response:
    agent = _caller(request)
    found = request.app[SIM_KEY].model.team(agent, request.match_info["team_id"])
    return xml_response(codec.team_to_xml(found))


async def not_found(request: web.Request) -> web.Response:
    """No route: 405 when the path exists with other methods, else 404."""
    for resource in request.app.router.resources():
        if resource is request.match_info.route.resource:
            continue
        match, allowed = await resource.resolve(request)
        if match is None and allowed:
            raise ApiErrorException(
                405,
                ApiError("Method Not Allowed", f"{request.method} is not supported", request.path),
            )
    raise ApiErrorException(404, ApiError("Not Found", "Resource not found", request.path))


def add_routes(app: web.Application) -> None:
    api = "/finesse/api"
    app.router.add_get(f"{api}/SystemInfo", system_info)
    app.router.add_get(f"{api}/User/{{id}}", get_user)
    app.router.add_put(f"{api}/User/{{id}}", put_user)
    app.router.add_get(f"{api}/User/{{id}}/Dialogs", get_dialogs)
    app.router.add_post(f"{api}/User/{{id}}/Dialogs", post_dialog)
    app.router.add_get(f"{api}/User/{{id}}/ReasonCodes", reason_codes)
    app.router.add_get(f"{api}/User/{{id}}/ReasonCode/{{code_id}}", reason_code)
    app.router.add_get(f"{api}/User/{{id}}/WrapUpReasons", wrap_up_reasons)
    app.router.add_get(f"{api}/Dialog/{{dialog_id}}", get_dialog)
    app.router.add_put(f"{api}/Dialog/{{dialog_id}}", put_dialog)
    app.router.add_get(f"{api}/Team/{{team_id}}", team)
    app.router.add_route("*", f"{api}/{{tail:.*}}", not_found)
