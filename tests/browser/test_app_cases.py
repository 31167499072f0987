"""The agent's app in Chromium, case by case: the other phone modes, refusals as the API
words them, a notification gap, a reload mid-call, and a command Finesse refuses.

One stack for the module: each test uses its own agent and leaves it NOT_READY or signed
out, so no other test's call is routed to it."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from scenarios.stack.connector_lab import default_dial_number

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def handset(stack, agent_id: str):
    return await stack.sim.phone(default_dial_number(agent_id)).open()


async def test_nailed_connection_answers_in_the_app(stack, open_app):
    app = await open_app()
    phone = await handset(stack, "1004")
    await app.sign_in_form("1004", mode="NAILED_CONNECTION")
    await phone.wait_for("ring")  # the setup call: the line stays open all shift
    await phone.answer()
    await app.expect_state("NOT_READY")
    await app.ready()
    await app.expect_state("READY")
    await stack.sim.place_call("8000", "+15550111", {"callVariable2": "VIP"})
    incoming = app.card("Incoming call")
    await expect(incoming).to_contain_text("callVariable2VIP")
    await expect(incoming.get_by_text("Answer on your phone")).to_have_count(0)
    await app.press("Answer", incoming)
    await app.expect_state("TALKING")
    await app.not_ready("Lunch")
    await expect(app.page.get_by_text("Not Ready after this call")).to_be_visible()
    await app.press("End call", app.card("On a call"))
    await app.expect_state("WORK")
    await app.choose_wrap_up("Resolved")
    await phone.close()


async def test_a_desk_phone_session_shows_calls_without_call_control(stack, open_app):
    app = await open_app()
    await app.sign_in("1005", mode="desk")
    await expect(app.page.get_by_label("Dial number")).to_be_hidden()
    await app.ready()
    await app.expect_state("READY")
    call_id = await stack.sim.place_call("8000", "+15550112", {"callVariable1": "DESK-1"})
    await expect(app.call).to_contain_text("+15550112")
    await expect(app.call).to_contain_text("Call control is not available")
    await expect(app.call).to_contain_text("callVariable1DESK-1")
    await expect(app.call.get_by_role("button")).to_have_count(0)
    await stack.sim.hang_up_call(call_id)
    await expect(app.call).to_have_count(0)
    await app.not_ready("Break")
    await app.expect_state("NOT_READY", "Break")


async def test_a_wrong_password_is_said_in_the_apis_words(stack, open_app):
    app = await open_app()
    await app.sign_in_form("1006", password="not-the-password")
    await expect(app.sign_in_error).to_have_text("wrong agent id or password")
    await expect(app.page.get_by_label("Password")).to_be_visible()
    stored = await app.page.evaluate("JSON.stringify({...sessionStorage, ...localStorage})")
    assert "not-the-password" not in stored  # the password is never kept


async def test_an_invalid_device_points_at_the_extension(stack, open_app):
    app = await open_app()
    await app.sign_in_form("1007", extension="7777")
    await expect(app.sign_in_error).to_have_text("extension 7777 is not a device Finesse knows")
    await expect(app.page.get_by_label("Extension")).to_have_attribute("aria-invalid", "true")


async def test_a_call_in_a_notification_gap_appears_and_the_banner_comes_and_goes(stack, open_app):
    app = await open_app()
    await app.sign_in("1008")
    await app.ready()
    await app.expect_state("READY")
    # The banner may show for only a few milliseconds: record every text it shows.
    await app.page.evaluate(
        """() => {
            window.bannerSeen = [];
            const banner = document.getElementById('banner');
            new MutationObserver(() => {
                if (!banner.hidden) window.bannerSeen.push(banner.textContent);
            }).observe(banner, {attributes: true, childList: true, characterData: true,
                                subtree: true});
        }"""
    )
    await stack.sim.fault("xmpp_drop")
    await stack.sim.place_call("8000", "+15550113", {"callVariable1": "GAP"})
    await expect(app.card("Incoming call")).to_contain_text("callVariable1GAP")
    await expect(app.banner).to_be_hidden()
    seen = await app.page.evaluate("window.bannerSeen")
    assert "Reconnecting to Finesse…" in seen
    phone = await handset(stack, "1008")
    await phone.answer()
    await app.expect_state("TALKING")
    await app.press("End call", app.card("On a call"))
    await app.expect_state("WORK_READY")
    await app.not_ready("Break")
    await phone.close()


async def test_a_reload_mid_call_shows_the_call_again(stack, open_app):
    app = await open_app()
    await app.sign_in("1009")
    await app.ready()
    await stack.sim.place_call("8000", "+15550114", {"callVariable3": "RELOAD"})
    phone = await handset(stack, "1009")
    await phone.answer()
    await app.expect_state("TALKING")
    await app.page.reload()
    await app.expect_state("TALKING")
    call = app.card("On a call")
    await expect(call).to_contain_text("+15550114")
    await expect(call).to_contain_text("callVariable3RELOAD")
    await app.press("End call", call)
    await app.expect_state("WORK_READY")
    await app.not_ready("Break")
    await phone.close()


async def test_a_command_finesse_refuses_is_shown_and_nothing_changes(stack, open_app):
    app = await open_app()
    await app.sign_in("1010")
    await app.ready()
    await app.expect_state("READY")
    # On UCCE Finesse allows LOGOUT only from NOT_READY.
    await app.sign_out("End of shift")
    await expect(app.notice).to_have_text(
        "Finesse does not allow that in the agent's current state"
    )
    await app.expect_state("READY")
    user = await stack.lab.finesse.agent("1010").get_user()
    assert user.state == "READY"
    await app.not_ready("Break")
    await app.expect_state("NOT_READY", "Break")
