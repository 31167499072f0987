"""What makes the app usable one-handed and by everyone: names for every control, touch
targets and text sizes, WCAG AA contrast, the keyboard alone; and a network drop, after
which nothing shown is stale."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from scenarios.stack.connector_lab import default_dial_number

pytestmark = pytest.mark.asyncio(loop_scope="module")

# Runs in the page: every visible control and text, measured as the browser drew it.
AUDIT = """() => {
  const visible = (el) => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => { for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  const problems = [];
  for (const el of document.querySelectorAll('button, input, summary')) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    const target = el.type === 'radio' ? el.closest('label').getBoundingClientRect() : r;
    if (target.height < 44 || target.width < 44) {
      problems.push(`small target: ${el.outerHTML.slice(0, 80)}`);
    }
    const named = el.tagName === 'INPUT' ? el.labels.length > 0 && el.labels[0].textContent.trim()
                                         : (el.getAttribute('aria-label') || el.textContent).trim();
    if (!named) problems.push(`no name: ${el.outerHTML.slice(0, 80)}`);
  }
  for (const el of document.querySelectorAll('body *')) {
    const text = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!text || !visible(el) || el.closest('[hidden]')) continue;
    const style = getComputedStyle(el);
    const size = parseFloat(style.fontSize);
    if (size < 16) problems.push(`text under 16px: ${el.textContent.trim().slice(0, 40)}`);
    const [a, b] = [lum(rgb(style.color)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      problems.push(`contrast ${ratio.toFixed(2)}: ${el.textContent.trim().slice(0, 40)}`);
    }
  }
  return problems;
}"""


async def audit(app) -> list[str]:
    return await app.page.evaluate(AUDIT)


async def test_every_screen_passes_names_sizes_and_contrast(stack, open_app):
    app = await open_app()
    assert await audit(app) == [], "sign-in screen"
    await app.sign_in_form("1001", password="wrong")
    await expect(app.sign_in_error).not_to_be_empty()
    assert await audit(app) == [], "sign-in refused"
    await app.sign_in("1001")
    assert await audit(app) == [], "home, Not Ready"
    await app.ready()
    await app.expect_state("READY")
    await app.press("Not Ready")
    assert await audit(app) == [], "reason sheet"
    await app.press("Not Ready")
    await stack.sim.place_call("8000", "+15550121", {"callVariable1": "ACC-7"})
    await expect(app.card("Incoming call")).to_be_visible()
    assert await audit(app) == [], "incoming call"
    phone = await stack.sim.phone(default_dial_number("1001")).open()
    await phone.answer()
    await app.expect_state("TALKING")
    await app.press("Keypad", app.card("On a call"))
    assert await audit(app) == [], "on a call, keypad open"
    await app.press("End call", app.card("On a call"))
    await expect(app.wrap_up).to_be_visible()
    assert await audit(app) == [], "wrap-up"
    await app.not_ready("Break")
    await app.expect_state("NOT_READY", "Break")
    await phone.close()


async def test_signing_in_and_going_ready_with_the_keyboard_alone(stack, open_app):
    app = await open_app()
    keys = app.page.keyboard
    await app.page.get_by_label("Agent ID").focus()
    await keys.type("1002")
    await keys.press("Tab")
    await keys.type("password")
    await keys.press("Tab")
    await keys.type("5002")
    await keys.press("Tab")  # the phone mode: Call by call is chosen
    await keys.press("Tab")
    await keys.type(default_dial_number("1002"))
    await keys.press("Enter")
    await app.expect_state("NOT_READY")
    await app.button("Ready").focus()
    await keys.press("Enter")
    await app.expect_state("READY")
    await app.button("Not Ready").focus()
    await keys.press("Space")
    await keys.press("Tab")  # into the sheet of reasons: Break first
    await keys.press("Enter")
    await app.expect_state("NOT_READY", "Break")


async def test_after_a_network_drop_the_banner_shows_and_the_missed_call_appears(stack, open_app):
    app = await open_app()
    phone = await stack.sim.phone(default_dial_number("1003")).open()
    await app.sign_in("1003")
    await app.ready()
    await app.expect_state("READY")
    await stack.app.stop()  # the road between the phone and the connector is cut
    await expect(app.banner).to_have_text("Connection lost. Reconnecting…")
    await stack.sim.place_call("8000", "+15550122", {"callVariable1": "MISSED"})
    await stack.app.start()
    await expect(app.banner).to_be_hidden(timeout=20_000)
    await expect(app.card("Incoming call")).to_contain_text("callVariable1MISSED")
    await app.expect_state("RESERVED")
    await phone.wait_for("ring")
    await phone.answer()
    await app.expect_state("TALKING")
    await app.press("End call", app.card("On a call"))
    await app.not_ready("Break")
    await phone.close()


async def test_the_audit_finds_each_kind_of_problem(open_app):
    app = await open_app()
    await app.page.evaluate(
        """() => {
            // Styles set through the CSSOM: the app's CSP refuses style attributes.
            const add = (tag, text, style) => {
                const el = document.createElement(tag);
                el.textContent = text;
                Object.assign(el.style, style);
                document.querySelector('main').append(el);
            };
            add('p', 'faint', {color: '#bbb'});
            add('p', 'tiny', {fontSize: '12px'});
            add('button', 'x', {minHeight: '20px', height: '20px', padding: '0'});
            add('button', '', {});
        }"""
    )
    found = await audit(app)
    assert any(p.startswith("contrast") and "faint" in p for p in found)
    assert any(p.startswith("text under 16px: tiny") for p in found)
    assert any(p.startswith("small target") for p in found)
    assert any(p.startswith("no name") for p in found)
