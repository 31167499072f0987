"""The app's tour: phone-sized screenshots of each screen, taken from the real app against
the simulated Finesse (`python -m scenarios.browser.tour docs/images`)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from playwright.async_api import async_playwright, expect

from mobile_sim.sim_control import SimControl
from scenarios.browser.app_page import AppPage
from scenarios.browser.chromium import launch, phone_context
from scenarios.stack.app_lab import AppLab
from scenarios.stack.connector_lab import ConnectorLab, default_dial_number

SHOTS = ("sign-in", "ready", "incoming-call", "active-call", "wrap-up", "reconnecting")


async def tour(folder: Path) -> list[Path]:
    """Screenshots into `folder` (which must exist)."""
    taken: list[Path] = []
    async with ConnectorLab() as lab, AppLab(lab.url("")) as server, async_playwright() as pw:
        sim = SimControl(lab.finesse.url("/sim/v1"), http=lab.http)
        browser = await launch(pw)
        context = await phone_context(browser, device_scale_factor=1)
        app = await AppPage.open(context, server.url)

        async def shot(name: str) -> None:
            path = folder / f"app-{name}.png"
            await app.page.screenshot(path=str(path), full_page=True)
            taken.append(path)

        await app.page.get_by_label("Agent ID").fill("1001")
        await app.page.get_by_label("Extension").fill("5001")
        await app.page.get_by_label("Dial number").fill(default_dial_number("1001"))
        await shot("sign-in")
        await app.sign_in("1001")
        await app.ready()
        await app.expect_state("READY")
        await shot("ready")
        phone = await sim.phone(default_dial_number("1001")).open()
        variables = {"callVariable1": "ACC-20417", "callVariable2": "Billing", "user.tier": "gold"}
        await sim.place_call("8000", "+14155550142", variables)
        await expect(app.card("Incoming call")).to_be_visible()
        await shot("incoming-call")
        await phone.wait_for("ring")
        await phone.answer()
        await app.expect_state("TALKING")
        await shot("active-call")
        await app.press("End call", app.card("On a call"))
        await expect(app.wrap_up).to_be_visible()
        await shot("wrap-up")
        await server.stop()
        await expect(app.banner).to_be_visible()
        await shot("reconnecting")
        await server.start()
        await phone.close()
        await browser.close()
    return taken


def main(argv: list[str]) -> int:
    folder = Path(argv[0] if argv else "docs/images")
    folder.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(tour(folder)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
