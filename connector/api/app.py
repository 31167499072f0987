"""`/api/v1`: the mobile API (an aiohttp app over a `Connector`). Routes only: parsing and
answers are in handlers.py and websocket.py, error shapes and statuses in errors.py."""

from __future__ import annotations

from aiohttp import web

from connector.api import handlers, websocket
from connector.api.errors import MAX_BODY, METRICS, errors, refused
from connector.errors import AgentError, Refusal
from connector.runtime import Connector


async def not_found(request: web.Request) -> web.Response:
    """No route took the request: 405 with `Allow` if the path exists for other methods."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not request.match_info.route.resource:  # not this catch-all
            match, methods = await resource.resolve(request)
            if match is None:
                allowed |= methods
    if allowed:
        return refused_method(request, sorted(allowed))
    raise AgentError(Refusal.NOT_FOUND, f"no such resource: {request.path}")


def refused_method(request: web.Request, allowed: list[str]) -> web.Response:
    response = refused(
        Refusal.METHOD_NOT_ALLOWED,
        f"{request.method} is not allowed on {request.path}; allowed: {', '.join(allowed)}",
    )
    response.headers["Allow"] = ", ".join(allowed)
    return response


def make_app(connector: Connector) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=connector.config.max_body)
    app[handlers.CONNECTOR] = connector
    app[METRICS] = connector.metrics
    app[MAX_BODY] = connector.config.max_body

    async def on_startup(_app: web.Application) -> None:
        await connector.start()

    async def on_cleanup(_app: web.Application) -> None:
        await connector.stop()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    r = app.router
    r.add_post("/api/v1/sessions", handlers.create_session)
    r.add_delete("/api/v1/sessions/current", handlers.delete_session)
    r.add_get("/api/v1/agent", handlers.get_agent)
    r.add_put("/api/v1/agent/state", handlers.put_state)
    r.add_get("/api/v1/reason-codes", handlers.reason_codes)
    r.add_get("/api/v1/wrapup-reasons", handlers.wrap_up_reasons)
    r.add_get("/api/v1/dialogs", handlers.get_dialogs)
    r.add_post("/api/v1/dialogs", handlers.make_call)
    r.add_post("/api/v1/dialogs/{dialog_id}/actions", handlers.dialog_action)
    r.add_get("/api/v1/events", websocket.events)
    r.add_get("/api/v1/push/vapid-public-key", handlers.vapid_public_key)
    r.add_post("/api/v1/push-subscriptions", handlers.create_push_subscription)
    r.add_delete("/api/v1/push-subscriptions/{id}", handlers.delete_push_subscription)
    r.add_put("/api/v1/app-state", handlers.put_app_state)
    r.add_get("/healthz", handlers.healthz)
    r.add_get("/readyz", handlers.readyz)
    r.add_get("/metrics", handlers.metrics)
    r.add_route("*", "/api/{tail:.*}", not_found)
    return app
