"""The agent's app in Chromium against the real stack: the simulated Finesse, the connector
and the Mobile App Server on loopback, one stack and one browser per test module, a fresh
phone-sized browser profile per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from playwright.async_api import async_playwright

from mobile_sim.sim_control import SimControl
from scenarios.browser.app_page import AppPage
from scenarios.browser.chromium import launch, phone_context
from scenarios.stack.app_lab import AppLab
from scenarios.stack.connector_lab import ConnectorLab

pytestmark = pytest.mark.asyncio(loop_scope="module")


class BrowserStack:
    def __init__(self, lab: ConnectorLab, app: AppLab, sim: SimControl) -> None:
        self.lab = lab
        self.app = app
        self.sim = sim


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack() -> AsyncIterator[BrowserStack]:
    async with ConnectorLab() as lab, AppLab(lab.url("")) as app:
        sim = SimControl(lab.finesse.url("/sim/v1"), http=lab.http)
        yield BrowserStack(lab, app, sim)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[object]:
    async with async_playwright() as playwright:
        chromium = await launch(playwright)
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(loop_scope="module")
async def open_app(stack, browser) -> AsyncIterator[Callable[[], Awaitable[AppPage]]]:
    """Opens the app in a new phone-sized profile; fails the test on any script error."""
    contexts = []
    pages: list[AppPage] = []

    async def opener() -> AppPage:
        context = await phone_context(browser)
        contexts.append(context)
        page = await AppPage.open(context, stack.app.url)
        pages.append(page)
        return page

    yield opener
    for context in contexts:
        await context.close()
    assert [p for page in pages for p in page.problems] == []
