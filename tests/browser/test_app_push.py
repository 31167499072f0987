"""The app in the background: it subscribes to push after sign-in and says it is hidden,
and the connector's push reaches the push service with the call, as the service worker
then shows it. Chromium here has no push service of its own, so the page's PushManager
hands out a subscription of the simulated push service (real keys, real encryption, real
VAPID); everything else is the app's and the connector's own."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio
from playwright.async_api import expect

from mobile_sim.sim_control import SimControl
from scenarios.browser.app_page import AppPage
from scenarios.browser.chromium import phone_context
from scenarios.stack.app_lab import AppLab
from scenarios.stack.connector_lab import ConnectorLab, default_dial_number

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Before the app's scripts: the browser's push service, as the simulated one.
STUB = """
window.pushSubscription = %s;
PushManager.prototype.getSubscription = async function () { return null; };
PushManager.prototype.subscribe = async function (options) {
    const raw = String.fromCharCode(...new Uint8Array(options.applicationServerKey));
    window.subscribedWith = btoa(raw).replace(/\\+/g, '-').replace(/\\//g, '_')
        .replace(/=+$/, '');
    return {toJSON: () => window.pushSubscription, options, unsubscribe: async () => true};
};
"""
HIDE = """() => {
    Object.defineProperty(document, 'visibilityState', {get: () => 'hidden', configurable: true});
    document.dispatchEvent(new Event('visibilitychange'));
}"""
SHOW = """() => {
    Object.defineProperty(document, 'visibilityState', {get: () => 'visible', configurable: true});
    document.dispatchEvent(new Event('visibilitychange'));
}"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def push_stack():
    async with ConnectorLab(push=True) as lab, AppLab(lab.url("")) as app:
        yield lab, app


async def subscribed_app(push_stack, browser, agent_id: str):
    """The app signed in as `agent_id` in a profile whose push service is the simulated
    one; the pushes that service decrypts for it land in the returned list."""
    lab, server = push_stack
    pushed: list[dict] = []
    key = lab.connector.push.vapid.public_key
    subscription = lab.push.subscribe(key, lambda message: pushed.append(message.payload))
    context = await phone_context(browser, permissions=["notifications"])
    await context.add_init_script(STUB % json.dumps(subscription.to_json()))
    app = await AppPage.open(context, server.url)
    await app.sign_in(agent_id)
    await expect(app.page.locator("#push-status")).to_have_text(
        "Calls reach this phone while the app is in the background."
    )
    assert await app.page.evaluate("window.subscribedWith") == key
    sim = SimControl(lab.finesse.url("/sim/v1"), http=lab.http)
    return app, context, sim, pushed


async def test_a_call_reaches_the_app_in_the_background_by_push(push_stack, browser):
    lab, _server = push_stack
    app, context, sim, pushed = await subscribed_app(push_stack, browser, "1001")
    await app.ready()
    await app.expect_state("READY")

    await app.page.evaluate(HIDE)  # the agent switches to another app
    phone = await sim.phone(default_dial_number("1001")).open()
    await sim.place_call("8000", "+15550131", {"callVariable1": "PUSHED"})
    await lab.push.wait_until(lambda: any(p["type"] == "dialog.created" for p in pushed))
    frame = next(p for p in pushed if p["type"] == "dialog.created")
    assert frame["data"]["fromAddress"] == "+15550131"
    assert frame["data"]["callVariables"]["callVariable1"] == "PUSHED"
    shown = await app.page.evaluate(
        "async (f) => (await import('/js/notify.js')).notificationFor(f)", frame
    )
    assert shown["title"] == "Incoming call from +15550131, Sales"
    assert shown["options"]["body"] == "callVariable1: PUSHED"

    await app.page.evaluate(SHOW)  # the agent taps the notification: the app is back
    await expect(app.card("Incoming call")).to_contain_text("callVariable1PUSHED")
    await phone.wait_for("ring")
    await phone.answer()
    await app.expect_state("TALKING")
    await app.press("End call", app.card("On a call"))
    await app.not_ready("Break")
    await phone.close()
    await context.close()


async def test_a_visible_app_gets_no_push(push_stack, browser):
    app, context, sim, pushed = await subscribed_app(push_stack, browser, "1002")
    await app.ready()
    phone = await sim.phone(default_dial_number("1002")).open()
    await sim.place_call("8000", "+15550132", {})
    await expect(app.card("Incoming call")).to_contain_text("+15550132")
    await phone.wait_for("ring")
    await phone.answer()
    await app.expect_state("TALKING")
    assert pushed == []  # on screen with its stream open: the call came by the stream only
    await app.press("End call", app.card("On a call"))
    await app.not_ready("Break")
    await phone.close()
    await context.close()


async def test_without_permission_the_app_asks_only_when_the_agent_taps(stack, open_app):
    app = await open_app()
    await app.sign_in("1003")
    status = app.page.locator("#push-status")
    # Not asked at sign-in (browsers refuse a prompt no tap asked for): a button offers it.
    await expect(status).to_have_text(
        "Turn on notifications to see calls while the app is in the background."
    )
    assert await app.page.evaluate("Notification.permission") == "default"
    await app.press("Turn on call notifications")
    # Headless Chromium dismisses the prompt: the app says what that means for the agent.
    await expect(status).not_to_have_text(
        "Turn on notifications to see calls while the app is in the background."
    )
    await expect(status).to_contain_text("keep the app open")
