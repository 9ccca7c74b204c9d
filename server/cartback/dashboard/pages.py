"""Rendering a dashboard page: the reader's language, the Jinja2 templates, the static assets
(versioned by content, so they can be cached) and the security headers every answer carries.

The pages send a strict Content-Security-Policy (no inline scripts or styles): the only script is a
static file that adds tooltips.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..config import asset_dir
from ..i18n import LOCALES, translator
from ..render import BUILTIN_TEMPLATES
from ..shops import Shop

LANG_COOKIE = "cartback_lang"
LANG_MAX_AGE = 365 * 86400

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
STATIC = asset_dir("static") / "dashboard"


def page_locale(request: Request, shop: Shop | None = None) -> tuple[str, bool]:
    """(locale, remember): ?lang= wins and is remembered, then the cookie, the shop, the browser."""
    asked = request.query_params.get("lang", "")
    if asked in LOCALES:
        return asked, True
    cookie = request.cookies.get(LANG_COOKIE, "")
    if cookie in LOCALES:
        return cookie, False
    if shop is not None and shop.locale in LOCALES:
        return shop.locale, False
    accept = request.headers.get("accept-language", "").lower()
    for part in accept.split(","):
        code = part.strip()[:2]
        if code in LOCALES:
            return code, False
    return "tr", False


def _lang_links(request: Request, locale: str) -> list[dict[str, Any]]:
    params = dict(request.query_params)
    links = []
    for code in LOCALES:
        params["lang"] = code
        links.append({"code": code, "label": code.upper(), "name": translator(code)("lang_name"),
                      "href": f"{request.url.path}?{urlencode(params)}", "active": code == locale})
    return links


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(BUILTIN_TEMPLATES / "dashboard")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


@lru_cache(maxsize=8)
def _asset_version(name: str, mtime: float) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]


def asset_url(name: str) -> str:
    path = STATIC / name
    try:
        version = _asset_version(name, path.stat().st_mtime)
    except OSError:
        version = "0"
    return f"/static/dashboard/{name}?v={version}"


def render_page(request: Request, template: str, locale: str, status: int = 200, remember: bool = False,
                **context: Any) -> HTMLResponse:
    html = _env().get_template(template).render(
        t=translator(locale), locale=locale, langs=_lang_links(request, locale), asset=asset_url, **context)
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if remember:
        remember_locale(response, locale, secure=request.url.scheme == "https")
    return response


def remember_locale(response: Response, locale: str, secure: bool) -> None:
    """The language asked for with ?lang= stays for the dashboard's later pages."""
    response.set_cookie(LANG_COOKIE, locale, max_age=LANG_MAX_AGE, path="/dashboard", samesite="lax",
                        httponly=True, secure=secure)
