"""/dashboard: the measured results for a shop's marketers, in Turkish and English.

- `auth`: sign-in with the shop's API key, signed session and device cookies, the lockout, sign-out
- `views`: the pages (sign-in form, results, CSV export, errors) and where the shop link goes
- `pages`: rendering a page: language, templates (templates/dashboard/), assets, security headers
- `period`, `charts`, `formats`, `verdict`: the pure parts of the results page
The texts are the `dashboard` domain of the gettext catalogs (`cartback.i18n`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .auth import current_session, login, logout, session_shop
from .views import dashboard, error_page, export_csv, login_page

__all__ = ["current_session", "dashboard", "error_page", "export_csv", "login", "login_page", "logout", "routes",
           "session_shop"]


async def _no_slash(request: Request) -> Response:
    return RedirectResponse("/dashboard", status_code=308)


routes = [
    Route("/dashboard", dashboard, methods=["GET", "HEAD"]),
    Route("/dashboard/export.csv", export_csv, methods=["GET"]),
    Route("/dashboard/", _no_slash, methods=["GET", "HEAD"]),
    Route("/dashboard/login", login_page, methods=["GET", "HEAD"]),
    Route("/dashboard/login", login, methods=["POST"]),
    Route("/dashboard/logout", logout, methods=["POST"]),
]
