"""The operations console: served by every node at ``/``, no build step (docs/console.md).

The page is plain ES modules and CSS from ``web/static``; its libraries are vendored there
(``scripts/vendor-web``), so the page never asks anything of any host but its own node, and
the Content-Security-Policy below tells the browser to refuse if it ever tried.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Response, get
from litestar.datastructures import CacheControlHeader
from litestar.params import FromPath
from litestar.static_files import create_static_files_router

from hotline.errors import NotFound
from hotline.web import i18n
from hotline.web.templates import templates_view

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/console/static"

#: Everything from this node, nothing inline, nothing framed: the console's whole policy.
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


def console_routes() -> list[Any]:
    """Route handlers of the console: ``/``, its catalogs and templates, its static files."""

    @get("/", include_in_schema=False)
    async def index() -> Response[bytes]:
        html = (STATIC_DIR / "index.html").read_bytes()
        return Response(html, media_type="text/html", headers=SECURITY_HEADERS)

    @get("/console/i18n/{name:str}", include_in_schema=False)
    async def catalog(name: FromPath[str]) -> Response[dict[str, Any]]:
        """``/console/i18n/ja.json``: the ``ja`` catalog as ``{lang, messages}``."""
        lang = name.removesuffix(".json")
        try:
            messages = i18n.messages(lang)
        except i18n.UnknownLanguage as exc:
            raise NotFound(str(exc), code="unknown_language") from None
        return Response(
            {"lang": lang, "languages": list(i18n.LANGUAGES), "messages": messages},
            headers={"cache-control": "no-cache"},
        )

    @get("/console/templates.json", include_in_schema=False)
    async def templates() -> list[dict[str, Any]]:
        """The standard crisis message templates in every console language."""
        return templates_view()

    static = create_static_files_router(
        path=STATIC_PATH,
        directories=[STATIC_DIR],
        cache_control=CacheControlHeader(no_cache=True),
        include_in_schema=False,
        name="console-static",
    )
    return [index, catalog, templates, static]
