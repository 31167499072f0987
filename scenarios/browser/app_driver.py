"""The step library's app, driven through the browser: `BrowserApp` is an `AppClient` whose
commands are the agent's taps in the real app (Chromium, through the Mobile App Server),
so the same feature text runs through the API and through the browser.

What the steps read back ("... in the app") still comes from an event stream of the same
session (the AppClient joins the session the browser signed in, a second token), and the
browser's own screen is checked beside it (`shows_state`, `shows_call`)."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import expect

from mobile_sim.app import AppClient, AppError, Mobile
from scenarios.browser.app_page import STATE_WORDS, AppPage

WRAP_UP = "UPDATE_CALL_DATA"
BUTTONS = {
    "ANSWER": "Answer",
    "HOLD": "Hold",
    "RETRIEVE": "Resume",
    "DROP": "End call",
    "TRANSFER": "Transfer",
    "CONFERENCE": "Conference",
}


class BrowserApp(AppClient):
    def __init__(self, page: AppPage, base_url: str, **kw: Any) -> None:
        super().__init__(base_url, **kw)
        self.page = page

    async def settled(self) -> None:
        """No button is waiting for its outcome: the tap has been answered."""
        await expect(self.page.page.locator('[aria-busy="true"]')).to_have_count(0)

    # -- session ------------------------------------------------------------------------------

    async def login(
        self,
        agent_id: str,
        password: str,
        extension: str,
        mobile: Mobile | None = None,
        *,
        listen: bool = True,
    ) -> dict[str, Any]:
        page = self.page
        await page.sign_in_form(
            agent_id,
            password=password,
            extension=extension,
            mode=mobile.mode if mobile else "desk",
            dial_number=mobile.dial_number if mobile else "",
        )
        # The home screen, or the refusal under the form.
        await expect(page.status.or_(page.sign_in_error.filter(has_text="."))).to_be_visible(
            timeout=15_000
        )
        if not await page.status.is_visible():
            raise AppError(0, "refused_in_the_app", await page.sign_in_error.inner_text())
        # The observer joins the live session the browser signed in (same extension, phone).
        return await super().login(agent_id, password, extension, mobile, listen=listen)

    async def logout(self, reason_code_id: int | str | None = None) -> None:
        label = await self._label("LOGOUT", reason_code_id) if reason_code_id else ""
        await self.page.sign_out(label)
        await expect(self.page.page.get_by_role("button", name="Sign in")).to_be_visible()
        await self.stop_listening()
        self.token = ""

    async def set_state(self, state: str, reason_code_id: int | str | None = None) -> str:
        if state == "READY":
            await self.page.ready()
        elif state == "NOT_READY":
            label = await self._label("NOT_READY", reason_code_id)
            await self.page.not_ready(label)
        else:
            raise AppError(0, "not_in_the_app", f"the app has no button for {state}")
        await self.settled()
        return ""

    async def _label(self, category: str, code: int | str | None) -> str:
        codes = await self.reason_codes(category)
        return next(c["label"] for c in codes if str(c["id"]) == str(code))

    # -- dialogs ------------------------------------------------------------------------------

    async def action(self, dialog_id: str, action: str, **params: Any) -> str:
        page = self.page
        if action == WRAP_UP and set(params) == {"wrapUpReason"}:
            await page.choose_wrap_up(params["wrapUpReason"])
            return ""
        card = page.call.locator(f'article[data-dialog-id="{dialog_id}"]')
        if action in BUTTONS and not params:
            await page.press(BUTTONS[action], card)
        elif action == "CONSULT_CALL":
            await page.consult(card, params["toAddress"])
        elif action == "TRANSFER_SST":
            await page.blind_transfer(card, params["toAddress"])
        elif action == "SEND_DTMF":
            await page.keypad(card, params["dtmf"])
        else:
            raise AppError(0, "not_in_the_app", f"the app has no control for {action} {params}")
        await self.settled()
        return ""

    async def make_call(self, to_address: str) -> str:
        raise AppError(0, "not_in_the_app", "the app has no dial pad for outbound calls")

    # -- the browser's own screen ---------------------------------------------------------------

    async def shows_state(self, state: str) -> None:
        """The status says the state (and, for NOT_READY, whatever reason it has)."""
        words = re.escape(STATE_WORDS.get(state, state))
        await expect(self.page.status).to_have_text(re.compile(f"^{words}( - .+)?$"))

    async def shows_call(self, title: str) -> None:
        await expect(self.page.card(title)).to_be_visible()

    async def shows_wrap_up(self) -> None:
        await expect(self.page.wrap_up).to_be_visible()
