"""One record's raw values turned into a products row: ids, text, URLs, prices with their currency,
availability. Every rule that fails raises `Reject` naming the field, so the row is listed, not
the file refused."""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .result import Reject

MAX_ID = 64
MAX_NAME = 300
MAX_URL = 2048
MAX_CATEGORY = 750  # Google's limit for product_type
MAX_PRICE = 1e9
_TRUE = {"true", "1", "yes", "y", "evet", "var", "instock", "available", "preorder", "backorder",
         "limitedavailability", "availablefororder", "onlineonly", "instoreonly"}
_FALSE = {"false", "0", "no", "n", "hayır", "hayir", "yok", "outofstock", "soldout", "discontinued",
          "unavailable"}

_CURRENCY_SIGNS = {"TL": "TRY", "₺": "TRY", "€": "EUR", "£": "GBP"}
_MONEY = re.compile(r"^(?:(?P<c1>[^\d\s.,+-]+)\s*)?(?P<num>[+-]?[\d.,]+)\s*(?P<c2>[^\d\s.,+-]+)?$")
_NUM_DOT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")  # 1,249.90 / 1249.90 / 1249
_NUM_COMMA = re.compile(r"^(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?$")  # 1.249,90 / 1249,90
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# The common shape of a product URL, checked without urlsplit; anything else takes the full path.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?(?:[/?#][!-~]*)?",
                        re.IGNORECASE)
_SPACES = re.compile(r"[\x00-\x1f\x7f\s]+")

@functools.cache
def known_currencies() -> frozenset[str]:
    """ISO 4217 codes from Babel, read once per process (not per import)."""
    try:
        from babel.numbers import list_currencies
    except ImportError:  # pragma: no cover - babel is a dependency; fall back to the shape check
        return frozenset()
    return frozenset(list_currencies())


def kind(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "true/false", type(None): "null"}.get(
        type(value), type(value).__name__)


def _text(value: Any, fld: str, max_len: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Reject(fld, f"{fld} must be text, not {kind(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise Reject(fld, f"{fld} must be text, not a decimal number")
        value = int(value)
    text = str(value).strip()
    if len(text) > max_len:
        raise Reject(fld, f"{fld} is {len(text)} characters long; at most {max_len}")
    if _SURROGATE.search(text):  # from a JSON line's "\ud800": SQLite (UTF-8) could not store it
        raise Reject(fld, f"{fld} is not valid Unicode (a lone surrogate such as \\ud800)")
    return text or None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean_text(value: Any, fld: str, max_len: int) -> str | None:
    text = _text(value, fld, max_len * 4)
    if text is None:
        return None
    text = _SPACES.sub(" ", text).strip()
    if len(text) > max_len:
        raise Reject(fld, f"{fld} is {len(text)} characters long; at most {max_len}")
    return text or None


def _identifier(value: Any, fld: str) -> str | None:
    text = _text(value, fld, MAX_ID)
    if text is not None and _CONTROL.search(text):
        raise Reject(fld, f"{fld} must not contain control characters (tabs, line breaks)")
    return text


def _url(value: Any, fld: str) -> str | None:
    text = _text(value, fld, MAX_URL)
    if text is None:
        return None
    if _PLAIN_URL.fullmatch(text):
        return text
    if _CONTROL.search(text):
        raise Reject(fld, f"{fld} must not contain control characters")
    text = text.replace(" ", "%20")
    if len(text) > MAX_URL:
        raise Reject(fld, f"{fld} is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise Reject(fld, f"{fld} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise Reject(fld, f"{fld} must be an absolute http(s) URL, not {text[:80]!r}")
    return text


def _currency(token: str, fld: str) -> str:
    code = _CURRENCY_SIGNS.get(token.strip(), token.strip()).upper()
    code = _CURRENCY_SIGNS.get(code, code)
    known = known_currencies()
    if not re.fullmatch(r"[A-Z]{3}", code) or (known and code not in known):
        raise Reject(fld, f"{fld}: {token.strip()[:20]!r} is not a 3-letter ISO 4217 currency code such as TRY")
    return code


def money(value: Any, fld: str) -> tuple[float | None, str | None]:
    """'249.90 TRY' / 'TRY 249.90' / '249,90' / 249.9 → (amount, currency or None)."""
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Reject(fld, f"{fld} must be a number or text such as '249.90 TRY', not {kind(value)}")
    currency = None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None, None
        m = _MONEY.match(text)
        if m is None:
            raise Reject(fld, f"{fld}: {text[:40]!r} is not a price such as '249.90 TRY'")
        if m["c1"] and m["c2"]:
            raise Reject(fld, f"{fld}: {text[:40]!r} names the currency twice")
        token = m["c1"] or m["c2"]
        if token:
            currency = _currency(token, fld)
        num = m["num"]
        negative = num.startswith("-")
        num = num.lstrip("+-")
        if _NUM_DOT.match(num):
            amount = float(num.replace(",", ""))
        elif _NUM_COMMA.match(num):
            amount = float(num.replace(".", "").replace(",", "."))
        else:
            raise Reject(fld, f"{fld}: {text[:40]!r} is not a number")
        if negative:
            amount = -amount
    else:
        try:
            amount = float(value)
        except OverflowError:
            raise Reject(fld, f"{fld} must be below {MAX_PRICE:,.0f}") from None
    if not math.isfinite(amount):
        raise Reject(fld, f"{fld} must be a finite number")
    if amount < 0:
        raise Reject(fld, f"{fld} must not be negative")
    if amount >= MAX_PRICE:
        raise Reject(fld, f"{fld} must be below {MAX_PRICE:,.0f}")
    return amount, currency


def availability(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str):
        key = value.strip().lower()
        if not key:
            return 1
        for prefix in ("https://schema.org/", "http://schema.org/"):
            if key.startswith(prefix):
                key = key[len(prefix):]
        key = key.replace("_", "").replace(" ", "").replace("-", "")
        if key in _TRUE:
            return 1
        if key in _FALSE:
            return 0
    shown = value[:30] if isinstance(value, str) else value
    raise Reject("in_stock", f"in_stock: unknown value {shown!r}; use true/false, yes/no, 1/0, "
                              "in_stock, out_of_stock, preorder or backorder")


# The upsert's values after the shop and before the time (id, name, price, currency, url, image,
# category, in_stock, group_id), then whether the file has each optional column at all (name, price,
# url, image, category, group_id): a column it lacks keeps what the row holds.
UpsertParams = tuple[str, str | None, float | None, str | None, str | None, str | None, str | None, int, str | None,
                     bool, bool, bool, bool, bool, bool]


@dataclass
class RowContext:
    fmt: str
    default_currency: str | None


def row_params(values: dict[str, Any], ctx: RowContext) -> tuple[str, UpsertParams]:
    """Validated (id, params for the upsert minus shop/time); raises Reject."""
    pid = _identifier(values.get("id"), "id")
    if pid is None:
        raise Reject("id", "id is required")
    name = _clean_text(values.get("name"), "name", MAX_NAME)
    has_price = "price" in values or "sale_price" in values
    price, price_cur = money(values.get("price"), "price")
    sale, sale_cur = money(values.get("sale_price"), "sale_price")
    col_cur = None
    raw_cur = values.get("currency")
    if raw_cur is not None and not (isinstance(raw_cur, str) and not raw_cur.strip()):
        if not isinstance(raw_cur, str):
            raise Reject("currency", f"currency must be a code such as TRY, not {kind(raw_cur)}")
        col_cur = _currency(raw_cur, "currency")
    if price_cur and col_cur and price_cur != col_cur:
        raise Reject("currency", f"price is in {price_cur} but the currency column says {col_cur}")
    currency = price_cur or col_cur
    if sale is not None:
        if sale_cur and currency and sale_cur != currency:
            raise Reject("sale_price", f"sale_price is in {sale_cur} but price is in {currency}")
        currency = currency or sale_cur
        price = sale
    if price is not None and currency is None:
        if ctx.fmt == "xml":
            raise Reject("price", "price has no currency; a Google feed writes it as '249.90 TRY'")
        if "currency" in values or ctx.default_currency is None:
            raise Reject("price", "price has no currency")
        currency = ctx.default_currency
    url = _url(values.get("url"), "url")
    image = _url(values.get("image"), "image")
    category = _clean_text(values.get("category"), "category", MAX_CATEGORY)
    in_stock = availability(values.get("in_stock"))
    group_id = _identifier(values.get("group_id"), "group_id")
    params = (pid, name, price, currency, url, image, category, in_stock, group_id,
              "name" in values, has_price, "url" in values, "image" in values, "category" in values,
              "group_id" in values)
    return pid, params


def rejected_id(values: dict[str, Any]) -> str | None:
    try:
        return _identifier(values.get("id"), "id")
    except Reject:
        return None
