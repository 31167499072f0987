"""The agent's app in a browser page, driven the way an agent uses it: by the accessible
names the app gives its fields and buttons (the same a screen reader announces).

Every wait is Playwright's `expect`, which retries until the page shows it or the timeout
passes; nothing sleeps.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Locator, Page, expect

from scenarios.stack.connector_lab import PASSWORD, default_dial_number, default_extension

WAIT_MS = 10_000
MODES = {
    "CALL_BY_CALL": "Call by call",
    "NAILED_CONNECTION": "Nailed connection",
    "desk": "Desk phone (state only)",
}
STATE_WORDS = {
    "READY": "Ready",
    "NOT_READY": "Not Ready",
    "RESERVED": "Reserved",
    "TALKING": "Talking",
    "WORK": "Wrap-up",
    "WORK_READY": "Wrap-up",
    "HOLD": "On hold",
}

expect.set_options(timeout=WAIT_MS)


class AppPage:
    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        self.url = url
        self.problems: list[str] = []  # script errors: a test fails on any
        page.on("pageerror", lambda error: self.problems.append(str(error)))

    @classmethod
    async def open(cls, context: Any, url: str) -> AppPage:
        app = cls(await context.new_page(), url)
        await app.page.goto(url)
        return app

    # -- what the agent sees ----------------------------------------------------------------

    @property
    def status(self) -> Locator:
        return self.page.get_by_role("status")

    @property
    def call(self) -> Locator:
        return self.page.get_by_role("region", name="Call")

    @property
    def wrap_up(self) -> Locator:
        return self.page.get_by_role("region", name="Wrap-up")

    @property
    def banner(self) -> Locator:
        return self.page.get_by_role("alert")

    @property
    def notice(self) -> Locator:
        return self.page.locator("#notice")

    @property
    def sign_in_error(self) -> Locator:
        return self.page.locator("#signin-error")

    def card(self, title: str) -> Locator:
        """One call card in the Call region: "Incoming call", "On a call", "Call on hold",
        "Consult call", "Incoming consult call"."""
        return self.call.get_by_role("article", name=re.compile(f"^{re.escape(title)} "))

    def button(self, name: str, within: Locator | None = None) -> Locator:
        return (within or self.page).get_by_role("button", name=name, exact=True)

    async def expect_state(self, state: str, reason: str = "") -> None:
        words = STATE_WORDS.get(state, state)
        await expect(self.status).to_have_text(f"{words} - {reason}" if reason else words)

    # -- what the agent does ----------------------------------------------------------------

    async def sign_in_form(
        self,
        agent_id: str,
        *,
        password: str = PASSWORD,
        extension: str = "",
        mode: str = "CALL_BY_CALL",
        dial_number: str = "",
    ) -> None:
        page = self.page
        await page.get_by_label("Agent ID").fill(agent_id)
        await page.get_by_label("Password").fill(password)
        await page.get_by_label("Extension").fill(extension or default_extension(agent_id))
        await page.get_by_role("radio", name=MODES[mode]).check()
        if mode != "desk":
            await page.get_by_label("Dial number").fill(
                dial_number or default_dial_number(agent_id)
            )
        await self.button("Sign in").click()

    async def sign_in(self, agent_id: str, **kw: Any) -> None:
        """Sign in and wait for the home screen (the agent's state shown)."""
        await self.sign_in_form(agent_id, **kw)
        await expect(self.status).to_be_visible()

    async def press(self, name: str, within: Locator | None = None) -> None:
        """Press a button by its name (within a card or a sheet where names repeat)."""
        await self.button(name, within).click()

    async def ready(self) -> None:
        await self.press("Ready")

    async def not_ready(self, reason: str) -> None:
        await self.press("Not Ready")
        await self.press(reason, self.page.get_by_role("group", name="Not Ready reason"))

    async def sign_out(self, reason: str = "") -> None:
        await self.press("Sign out")
        sheet = self.page.get_by_role("group", name="Sign-out reason")
        await self.press(reason or "Sign out now", sheet)

    async def consult(self, card: Locator, number: str) -> None:
        await self.press("Consult", card)
        await card.get_by_label("Number to consult").fill(number)
        await self.press("Start consult", card)

    async def blind_transfer(self, card: Locator, number: str) -> None:
        await self.press("Blind transfer", card)
        await card.get_by_label("Number to transfer to").fill(number)
        await self.press("Transfer now", card)

    async def keypad(self, card: Locator, digits: str) -> None:
        await self.press("Keypad", card)
        pad = card.get_by_role("group", name="Keypad digits")
        for digit in digits:
            await self.press(digit, pad)
            await expect(self.button(digit, pad)).not_to_have_attribute("aria-busy", "true")

    async def choose_wrap_up(self, reason: str) -> None:
        await self.press(reason, self.wrap_up)
        await expect(self.wrap_up).to_contain_text(f"Wrap-up reason: {reason}")
