"""Signing in to the dashboard and its sessions (the lockout against guessed keys: lockout.py).

Sign-in takes the shop id and its API key once; after that the browser holds only a signed,
expiring session cookie (itsdangerous, salt `cartback.dashboard`, HttpOnly, SameSite=Lax), never
the key. The session carries a fingerprint of the key's hash, so a new key ends old sessions, and
signing out revokes the session in `meta`, so a copied cookie dies with it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
import sqlite3
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..http import BODY_TIMEOUT
from ..i18n import translator
from ..services import services
from ..shops import SHOP_ID, Shop
from . import lockout
from .pages import SECURITY_HEADERS, page_locale, render_page

PURPOSE = "cartback.dashboard"
SESSION_COOKIE = "cartback_session"
SESSION_MAX_AGE = 12 * 3600

# Against guessing keys (lockout.py): every failure waits, then too many lock the shop's sign-in.
FAIL_DELAY = 0.75
DEVICE_COOKIE = "cartback_device"
DEVICE_PURPOSE = "cartback.dashboard.device"
DEVICE_MAX_AGE = 365 * 86400


async def _serializer(request: Request, purpose: str = PURPOSE) -> URLSafeTimedSerializer:
    """The server secret under a purpose: a session token is never a device cookie, nor back."""
    state = services(request)
    serializer = state.dashboard_serializers.get(purpose)
    if serializer is None:
        serializer = state.dashboard_serializers[purpose] = URLSafeTimedSerializer(state.secret, salt=purpose)
    return serializer


def _key_print(shop: Shop) -> str:
    return hashlib.sha256(("dashboard:" + shop.api_key_hash).encode()).hexdigest()[:16]


@dataclass
class Session:
    shop: Shop
    csrf: str


async def current_session(request: Request) -> Session | None:
    """The signed-in shop of a dashboard request, or None (missing, forged, expired or revoked)."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw or len(raw) > 1000:
        return None
    try:
        data = (await _serializer(request)).loads(raw, max_age=SESSION_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("s"), str) or not isinstance(data.get("c"), str):
        return None
    shop = await services(request).shops.get(data["s"])
    if shop is None or not hmac.compare_digest(str(data.get("k", "")), _key_print(shop)):
        return None
    if await services(request).db.fetchone("SELECT 1 FROM meta WHERE key = ?", (_REVOKED + data["c"],)):
        return None  # signed out: the cookie may live on in a copy, the session does not
    return Session(shop, data["c"])

# Signed-out sessions by their random id (meta rows until the cookie would have expired anyway).
_REVOKED = "revoked_session:"


def _revoke(conn: sqlite3.Connection, session_id: str, now: float) -> None:
    # DOUBLE PRECISION: PostgreSQL's REAL has 4 bytes, too few for a timestamp (SQLite reads both as REAL).
    conn.execute("DELETE FROM meta WHERE key >= ? AND key < ? AND CAST(value AS DOUBLE PRECISION) < ?",
                 (_REVOKED, _REVOKED[:-1] + ";", now))
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (_REVOKED + session_id, repr(now + SESSION_MAX_AGE)))


async def session_shop(request: Request) -> Shop | None:
    """For other endpoints (the report API) that also accept a dashboard session."""
    session = await current_session(request)
    return session.shop if session else None


def _same_origin(request: Request) -> bool:
    """A POST from our own pages: Origin (or Referer) names this host, or the browser sent neither."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc.lower() == request.headers.get("host", "").lower()


async def _read_form(request: Request, limit: int = 4096) -> dict[str, str]:
    body = b""
    try:
        async with asyncio.timeout(BODY_TIMEOUT):  # a stalled sign-in form must not hold its connection
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise ValueError("form too large")
    except TimeoutError:
        raise ValueError("form not received in time") from None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=10)
    return {k: v[0] for k, v in fields.items()}


async def login(request: Request) -> Response:
    locale, _ = page_locale(request)
    t = translator(locale)
    try:
        form = await _read_form(request)
    except (ValueError, UnicodeDecodeError):
        form = None
    if form is None or not _same_origin(request):
        return render_page(request, "login.html", locale, status=400, error=t("bad_request"), notice=None,
                           shop_id="")
    shop_id = form.get("shop", "").strip().lower()[:63]
    key = form.get("key", "").strip()[:200]
    address = request.client.host if request.client else "?"
    device = await _device(request, shop_id)
    state = services(request)
    shop = await state.shops.get(shop_id) if SHOP_ID.match(shop_id) else None
    attempt = lockout.Attempt.of(state.secret, shop_id, address, device)
    wait = await state.db.read(lockout.locked_for, attempt, time.time()) if shop is not None else 0.0
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        return render_page(request, "login.html", locale, status=429, error=t("locked", minutes=minutes),
                           notice=None, shop_id=shop_id)
    if shop is None or not key or not shop.check_key(key):
        if shop is not None:
            await state.db.write(lockout.fail, attempt, time.time())
        await asyncio.sleep(FAIL_DELAY)
        return render_page(request, "login.html", locale, status=401, error=t("wrong_key"), notice=None,
                           shop_id=shop_id)
    await state.db.write(lockout.succeed, attempt)
    token = (await _serializer(request)).dumps({"s": shop.id, "k": _key_print(shop), "c": secrets.token_urlsafe(16)})
    response = RedirectResponse("/dashboard", status_code=303, headers=SECURITY_HEADERS)
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_MAX_AGE, path="/", httponly=True, samesite="lax",
                        secure=secure)
    if device is None:
        mark = (await _serializer(request, DEVICE_PURPOSE)).dumps({"s": shop.id, "d": secrets.token_urlsafe(12)})
        response.set_cookie(DEVICE_COOKIE, mark, max_age=DEVICE_MAX_AGE, path="/dashboard/login", httponly=True,
                            samesite="strict", secure=secure)
    return response


async def _device(request: Request, shop_id: str) -> str | None:
    """The id of this browser when it signed in to `shop_id` before (its device cookie), else None."""
    raw = request.cookies.get(DEVICE_COOKIE, "")
    if not raw or len(raw) > 300:
        return None
    try:
        data = (await _serializer(request, DEVICE_PURPOSE)).loads(raw, max_age=DEVICE_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("s") != shop_id or not isinstance(data.get("d"), str):
        return None
    return str(data["d"])


async def logout(request: Request) -> Response:
    session = await current_session(request)
    try:
        form = await _read_form(request)
    except (ValueError, UnicodeDecodeError):
        form = {}
    if session is not None and (not _same_origin(request)
                                or not hmac.compare_digest(form.get("csrf", ""), session.csrf)):
        return Response("Forbidden", status_code=403, headers=SECURITY_HEADERS, media_type="text/plain")
    if session is not None:
        await services(request).db.write(_revoke, session.csrf, time.time())
    response = RedirectResponse("/dashboard/login", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
