"""Shops: records, API keys, allowed origins, empty-cart selector presets and per-shop settings."""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import math
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from starlette.requests import Request

from .cache import BoundedCache
from .errors import ApiError, bad_request
from .i18n import LOCALES

if TYPE_CHECKING:
    from .http import AddressLimiter

SHOP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

# Where each platform's theme shows an empty cart (DESIGN-NOTES.md); a merchant can name the
# platform instead of writing CSS. The snippet inserts the block after the first visible match.
SELECTOR_PRESETS = {
    "shopify": "cart-items.is-empty .cart__warnings, .cart__empty-text",
    "woocommerce": ".wc-empty-cart-message, .wp-block-woocommerce-empty-cart-block",
    "magento": ".checkout-cart-index .cart-empty",
    "prestashop": ".cart-overview .no-items",
    "opencart": "#checkout-cart #shopping-cart, #error-not-found #content",
}

# Platforms whose cart the snippet reads by itself (an adapter, snippet/src/adapters/<name>.js), so
# a merchant pastes the tag and nothing else. ga4 reads any shop's GA4 e-commerce dataLayer and has
# no cart API, hence no restore.
PLATFORMS = ("shopify", "woocommerce", "magento", "prestashop", "ga4")
RESTORING_PLATFORMS = ("shopify", "woocommerce", "magento", "prestashop")
# Which of the platform's ids the shop's catalog (and its JSON-LD) uses.
ID_FIELDS = ("product", "sku", "variant")

DEFAULT_SETTINGS: dict[str, Any] = {
    # Block layout: section order, titles per locale ({"tr": {"cart": "…"}}), limits.
    "sections": ["cart", "viewed", "favorites", "similar"],
    "titles": {},
    "max_per_section": {"cart": 4, "viewed": 4, "favorites": 4, "similar": 8},
    "min_per_section": 1,
    "min_block": 1,
    "max_block": 8,
    # Consumables (honey) are bought again: a bought product may stay in the cart-history section.
    "rebuy_in_cart_history": False,
    # Results: attribution window for clicks → purchases, control group share, raw-event retention.
    "attribution_days": 7,
    "holdout_share": 0.10,
    "retention_days": 395,
    # Image hosts accepted from browsers besides the shop's own origins (CDNs).
    "image_origins": [],
    # Zero-code tracking and one-click restore: the shop's platform (PLATFORMS), the id its catalog
    # uses, and for shops without a platform restore a URL template ({id}, {variant}, {qty}).
    "platform": None,
    "id_field": "product",
    "restore_url": None,
}


# Kept with the settings by update_settings, not a setting a merchant sets.
HOLDOUT_CHANGED = "holdout_changed_at"

# One-tuples, so a cached None (not an origin) is told from a miss in one lookup.
_normalized: BoundedCache[str, tuple[str | None]] = BoundedCache(10_000)
_normalized_lock = threading.Lock()  # reader threads check origins too


def normalize_origin(value: str) -> str | None:
    """`https://Shop.example:443/x` → `https://shop.example`; None when not an http(s) origin."""
    # Every browser call checks its Origin (and its products' URLs), mostly the same few: urlsplit once
    # each. Bounded in entries and size, since these are whatever the client sends.
    hit = _normalized.get(value)
    if hit is not None:
        return hit[0]
    result = _normalize_origin(value)
    if len(value) <= 512:
        with _normalized_lock:
            _normalized.put(value, (result,))
    return result


def _normalize_origin(value: str) -> str | None:
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def merged_settings(stored: dict[str, Any]) -> dict[str, Any]:
    settings = copy.deepcopy(DEFAULT_SETTINGS)
    for key, value in stored.items():
        if isinstance(value, dict) and isinstance(settings.get(key), dict):
            settings[key].update(value)
        else:
            settings[key] = value
    return settings


@dataclass
class Shop:
    id: str
    api_key_hash: str
    origins: list[str]
    selector: str | None
    locale: str
    currency: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def selector_css(self) -> str | None:
        # A shop that names its platform gets that platform's empty-cart preset unless it set its own.
        selector = self.selector or self.settings.get("platform")
        if not selector:
            return None
        return SELECTOR_PRESETS.get(selector, selector if self.selector else None)

    @property
    def can_restore(self) -> bool:
        """Whether the block may offer to put the cart back: the platform's cart API or a URL template."""
        return self.settings.get("platform") in RESTORING_PLATFORMS or bool(self.settings.get("restore_url"))

    def allows_origin(self, origin: str) -> bool:
        return normalize_origin(origin) in self.origins

    @functools.cached_property
    def asset_origins(self) -> list[str]:
        # Once per Shop: a changed shop is a new Shop object, and nothing edits settings in place.
        extra = [o for o in (normalize_origin(v) for v in self.settings.get("image_origins", [])) if o]
        return self.origins + extra

    def check_key(self, api_key: str) -> bool:
        return hmac.compare_digest(hash_key(api_key), self.api_key_hash)


def _row_to_shop(row: Sequence[Any]) -> Shop:
    shop_id, key_hash, origins, selector, locale, currency, settings = row
    stored = json.loads(settings)
    if "\\ud" in settings.lower():
        # A lone surrogate stored before they were refused (json.dumps escapes it): rendered or sent
        # as UTF-8 it would fail every block and settings answer, so it shows as U+FFFD instead.
        stored = _scrub(stored)
    return Shop(shop_id, key_hash, json.loads(origins), selector, locale, currency, merged_settings(stored))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


SHOP_COLUMNS = "id, api_key_hash, origins, selector, locale, currency, settings"


def validate_shop_fields(shop_id: str, origins: list[str], locale: str, currency: str) -> list[str]:
    if not SHOP_ID.match(shop_id):
        raise bad_request("shop", "use 1-63 lowercase letters, digits, '-' or '_'")
    normalized = []
    for value in origins:
        origin = normalize_origin(value)
        if origin is None:
            raise bad_request("origin", f"{value!r} is not an http(s) origin")
        normalized.append(origin)
    if not normalized:
        raise bad_request("origin", "at least one allowed origin is needed")
    if locale not in LOCALES:
        raise bad_request("locale", f"use one of {', '.join(LOCALES)}")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise bad_request("currency", "use a 3-letter ISO 4217 code such as TRY")
    return normalized


# Bumped in the transaction of every change to a shop, whichever process makes it (the CLI, another
# server): each server's registry reads it at most every VERSION_CHECK_EVERY seconds.
SHOPS_VERSION_KEY = "shops:version"
VERSION_CHECK_EVERY = 0.5


def _shops_changed(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (SHOPS_VERSION_KEY, secrets.token_hex(8)))


def create_shop(conn: sqlite3.Connection, shop_id: str, origins: list[str], selector: str | None = None,
                locale: str = "tr", currency: str = "TRY", settings: dict[str, Any] | None = None) -> str:
    """Create a shop; returns its API key (shown once, stored only as a hash)."""
    normalized = validate_shop_fields(shop_id, origins, locale, currency)
    if get_shop(conn, shop_id) is not None:
        raise ApiError(409, "shop_exists", f"shop: {shop_id!r} already exists", "shop")
    api_key = new_api_key()
    conn.execute(
        f"INSERT INTO shops ({SHOP_COLUMNS}, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (shop_id, hash_key(api_key), json.dumps(sorted(set(normalized))), selector or None, locale,
         currency, json.dumps(validate_settings(settings or {})), time.time()),
    )
    _shops_changed(conn)
    return api_key


def rotate_key(conn: sqlite3.Connection, shop_id: str) -> str:
    """A new API key for the shop (shown once); the old one stops working, and with it every
    dashboard session signed in with it (sessions carry a fingerprint of the key's hash)."""
    if get_shop(conn, shop_id) is None:
        raise ApiError(404, "unknown_shop", f"shop: no shop {shop_id!r}", "shop")
    api_key = new_api_key()
    conn.execute("UPDATE shops SET api_key_hash = ? WHERE id = ?", (hash_key(api_key), shop_id))
    _shops_changed(conn)
    return api_key


def new_api_key() -> str:
    return "cb_" + secrets.token_urlsafe(24)


def _is_int(v: Any, lo: int, hi: int) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def validate_settings(changes: Any) -> dict[str, Any]:
    """Refuse unknown names and wrong types before anything is stored, naming the setting."""
    if not isinstance(changes, dict):
        raise bad_request("settings", "must be an object of NAME: VALUE")
    for name, value in changes.items():
        where = f"settings.{name}"
        if _LONE_SURROGATE.search(json.dumps(value, ensure_ascii=False)) if value is not None else False:
            raise bad_request(where, "not valid Unicode (a lone surrogate such as \\ud800)")
        if name not in DEFAULT_SETTINGS:
            raise bad_request(where, f"unknown setting; use one of {', '.join(DEFAULT_SETTINGS)}")
        if name == "sections":
            if not isinstance(value, list) or not value or len(set(value)) != len(value) \
                    or not set(value) <= set(DEFAULT_SETTINGS["sections"]):
                raise bad_request(where, "a list of distinct sections among cart, viewed, favorites, similar")
        elif name == "titles":
            if not isinstance(value, dict) or not all(
                    loc in LOCALES and isinstance(t, dict) and all(
                        k in DEFAULT_SETTINGS["sections"] + ["title"] and isinstance(v, str) and 0 < len(v) <= 80
                        for k, v in t.items())
                    for loc, t in value.items()):
                raise bad_request(where, 'like {"tr": {"cart": "Sepetinizdeydi"}}; texts of 1-80 characters')
        elif name == "max_per_section":
            if not isinstance(value, dict) or not all(
                    k in DEFAULT_SETTINGS["sections"] and _is_int(v, 0, 24) for k, v in value.items()):
                raise bad_request(where, 'like {"viewed": 4}; whole numbers from 0 to 24')
        elif name in ("min_per_section", "min_block", "max_block"):
            if not _is_int(value, 1, 24):
                raise bad_request(where, "a whole number from 1 to 24")
        elif name == "rebuy_in_cart_history":
            if not isinstance(value, bool):
                raise bad_request(where, "true or false")
        elif name == "attribution_days":
            if not _is_int(value, 1, 90):
                raise bad_request(where, "a whole number of days from 1 to 90")
        elif name == "retention_days":
            if not _is_int(value, 1, 3650):
                raise bad_request(where, "a whole number of days from 1 to 3650")
        elif name == "holdout_share":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 0.5:
                raise bad_request(where, "a share from 0 (off) to 0.5")
        elif name == "image_origins":
            if not isinstance(value, list) or not all(isinstance(v, str) and normalize_origin(v) for v in value):
                raise bad_request(where, "a list of http(s) origins")
        elif name == "platform":
            if value is not None and value not in PLATFORMS:
                raise bad_request(where, f"one of {', '.join(PLATFORMS)}, or null for none")
        elif name == "id_field":
            if value not in ID_FIELDS:
                raise bad_request(where, f"one of {', '.join(ID_FIELDS)}")
        elif name == "restore_url" and value is not None and not _restore_template(value):
            raise bad_request(where, "a path such as /cart/add?id={variant}&quantity={qty}, or an http(s) "
                                     "URL, with {id} or {variant}; at most 500 characters")
    return changes


def _restore_template(value: Any) -> bool:
    if not isinstance(value, str) or not 0 < len(value) <= 500 or _CONTROL.search(value):
        return False
    if "{id}" not in value and "{variant}" not in value:
        return False
    # The snippet fetches it from the shop's page with the visitor's cookies: a path on the shop, or
    # an http(s) URL (checked against the page's origin by the browser's CORS rules).
    return (value.startswith("/") and not value.startswith("//")) or normalize_origin(value) is not None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def update_settings(conn: sqlite3.Connection, shop_id: str, changes: dict[str, Any]) -> Shop:
    validate_settings(changes)
    row = conn.execute("SELECT settings FROM shops WHERE id = ?", (shop_id,)).fetchone()
    if row is None:
        raise ApiError(404, "unknown_shop", f"shop: no shop {shop_id!r}", "shop")
    stored = json.loads(row[0])
    if "holdout_share" in changes and changes["holdout_share"] != merged_settings(stored)["holdout_share"]:
        # The report says when the control group's size changed: a period can span both settings.
        stored[HOLDOUT_CHANGED] = time.time()
    stored.update(changes)
    conn.execute("UPDATE shops SET settings = ? WHERE id = ?", (json.dumps(stored), shop_id))
    _shops_changed(conn)
    shop = get_shop(conn, shop_id)
    assert shop is not None
    return shop


def get_shop(conn: sqlite3.Connection, shop_id: str) -> Shop | None:
    row = conn.execute(f"SELECT {SHOP_COLUMNS} FROM shops WHERE id = ?", (shop_id,)).fetchone()
    return _row_to_shop(row) if row else None


class RowSource(Protocol):
    """Where the registry reads shops from: the app's Database (or a test's stand-in)."""

    async def fetchone(self, sql: str, params: Any = ()) -> tuple[Any, ...] | None: ...


class ShopRegistry:
    """Shops cached in memory: every browser request needs one, and they rarely change.

    A change made anywhere (this process, the CLI, another server on the database) moves the
    shops' version row; the registry reads it at most every VERSION_CHECK_EVERY seconds and drops
    what it holds when it moved, so every change is seen within a second. Entries also expire
    after `ttl` seconds, for rows changed by hand in SQL; unknown ids are cached briefly too, so
    junk ids cost no query each time.
    """

    def __init__(self, db: RowSource, ttl: float = 30.0, key_failures: AddressLimiter | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        # Wrong API keys per client address (`require_merchant`).
        self.key_failures = key_failures
        self._clock = clock
        # An unknown id is remembered too (as None, briefly), so junk ids cost no query each.
        self._cache: BoundedCache[str, Shop | None] = BoundedCache(10_000, ttl=ttl, clock=clock)
        self._version: str | None = None
        self._checked_at = -math.inf

    async def _check_version(self) -> None:
        now = self._clock()
        if now - self._checked_at < VERSION_CHECK_EVERY:
            return
        self._checked_at = now
        row = await self._db.fetchone("SELECT value FROM meta WHERE key = ?", (SHOPS_VERSION_KEY,))
        version = row[0] if row else None
        if version != self._version:
            self._cache.clear()
            self._version = version

    async def get(self, shop_id: object) -> Shop | None:
        if not isinstance(shop_id, str) or not SHOP_ID.match(shop_id):
            return None
        await self._check_version()
        hit = self._cache.get(shop_id)
        if hit is not None or self._cache.has(shop_id):  # a known shop, or a known unknown id
            return hit
        row = await self._db.fetchone(f"SELECT {SHOP_COLUMNS} FROM shops WHERE id = ?", (shop_id,))
        shop = _row_to_shop(row) if row else None
        self._cache.put(shop_id, shop, ttl=None if shop else 5.0)
        return shop

    def fresh(self, shop_id: object) -> Shop | None:
        """The shop when its cache entry is fresh and the version was read lately, without an await
        (the endpoints' usual case); None means: ask `require`."""
        if type(shop_id) is not str or self._clock() - self._checked_at >= VERSION_CHECK_EVERY:
            return None
        return self._cache.get(shop_id)

    def forget(self, shop_id: str) -> None:
        self._cache.pop(shop_id)

    async def require(self, shop_id: object, field_name: str = "shop") -> Shop:
        if shop_id is None or shop_id == "":
            raise bad_request(field_name, "is required")
        if not isinstance(shop_id, str):
            raise bad_request(field_name, "must be a string")
        shop = await self.get(shop_id)
        if shop is None:
            raise ApiError(404, "unknown_shop", f"{field_name}: no shop {shop_id[:80]!r}", field_name)
        return shop


async def require_merchant(request: Request, shop_id: str) -> Shop:
    """The shop, when the request carries its API key as `Authorization: Bearer <key>`.

    Wrong keys are counted per client address (`ShopRegistry.key_failures`): past the limit
    the address gets 429 for the rest of the minute, right key or not, so keys cannot be guessed at speed."""
    from .http import client_address

    shops: ShopRegistry = request.app.state.services.shops
    headers = request.headers
    address = client_address(request.scope)
    shop = await shops.require(shop_id)
    guard = shops.key_failures
    if guard is not None and guard.blocked(address):
        guard.refuse()
    auth = headers.get("authorization", "")
    scheme, _, key = auth.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "authorization: send 'Authorization: Bearer <shop api key>'",
                       "authorization")
    if not shop.check_key(key.strip()):
        if guard is not None:
            guard.count(address)
        raise ApiError(403, "forbidden", "authorization: this API key is not valid for this shop", "authorization")
    return shop
