"""Starting Chromium for the app: Debian's package through Playwright (Playwright's own
browser download is not used). Headless, no sandbox (tests run as root in CI), and none of
Chromium's background connections, which a closed network refuses by the dozen."""

from __future__ import annotations

import os
import shutil
from typing import Any

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PHONE = {"width": 360, "height": 640}  # the app's design size


class BrowserMissing(RuntimeError):
    pass


def executable() -> str:
    """MOBAGENT_CHROMIUM, else the first Chromium found; a clear error when there is none."""
    chosen = os.environ.get("MOBAGENT_CHROMIUM")
    candidates = [chosen] if chosen else [*CHROMIUM_PATHS, shutil.which("chromium") or ""]
    for path in candidates:
        if path and os.access(path, os.X_OK):
            return path
    raise BrowserMissing(
        "no Chromium found: install it (Debian: apt-get install chromium; `make test` does) "
        "or set MOBAGENT_CHROMIUM to its path"
    )


async def launch(playwright: Any, *, headless: bool = True) -> Any:
    return await playwright.chromium.launch(
        executable_path=executable(), headless=headless, args=FLAGS
    )


async def phone_context(browser: Any, **options: Any) -> Any:
    """A fresh profile the size of a phone: its own storage, touch, a mobile user agent."""
    settings = {"viewport": PHONE, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
    return await browser.new_context(**{**settings, **options})
