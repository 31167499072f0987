"""The app's files, served from memory with validators, cache rules and security headers.

The app is small (tens of KiB) and has no build step, so the files keep their names from one
release to the next: every response carries an ETag and `Cache-Control: no-cache` (the
browser revalidates, and a 304 costs one round trip), except the icons, which rarely change.
The service worker keeps the shell for offline starts.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"

# No inline script or style anywhere in the app, so none is allowed: an injected <script>
# or a style attribute from data cannot run. 'self' covers ws:/wss: to the same host.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
LONG_LIVED = ("icons/",)  # a day in the cache, then revalidated


@dataclass(frozen=True, slots=True)
class AppFile:
    body: bytes
    content_type: str
    etag: str
    cache_control: str


def load(root: Path = STATIC) -> dict[str, AppFile]:
    """Every file under `root`, keyed by its URL path ("/" is index.html)."""
    files: dict[str, AppFile] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        body = path.read_bytes()
        content_type = TYPES.get(path.suffix) or mimetypes.guess_type(rel)[0]
        files["/" + rel] = AppFile(
            body=body,
            content_type=content_type or "application/octet-stream",
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            cache_control=("public, max-age=86400" if rel.startswith(LONG_LIVED) else "no-cache"),
        )
    files["/"] = files["/index.html"]
    return files


def with_security_headers(response: web.StreamResponse) -> web.StreamResponse:
    response.headers.update(SECURITY_HEADERS)
    return response


async def not_found(_request: web.Request) -> web.StreamResponse:
    return with_security_headers(
        web.Response(status=404, text="not found\n", content_type="text/plain")
    )


def add_routes(app: web.Application, files: dict[str, AppFile] | None = None) -> None:
    """Serve the app at `/` of `app` (the Mobile App Server's, or the connector's with
    `--app`). Only GET and HEAD; anything else under these paths is the app's 404/405."""
    table = files if files is not None else load()

    async def serve(request: web.Request) -> web.StreamResponse:
        found = table.get(request.path)
        if found is None:
            return await not_found(request)
        headers = {"ETag": found.etag, "Cache-Control": found.cache_control}
        if found.etag in _etags(request.headers.get("If-None-Match", "")):
            return with_security_headers(web.Response(status=304, headers=headers))
        response = web.Response(body=found.body, headers=headers)
        response.content_type = found.content_type.split(";")[0]
        if "charset=" in found.content_type:
            response.charset = found.content_type.rsplit("=", 1)[1]
        return with_security_headers(response)

    for path in table:
        app.router.add_get(path, serve)  # add_get also answers HEAD


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
