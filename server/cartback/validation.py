"""Parsing and validation of what browsers send. Pure functions: no I/O, no database.

Two kinds of problem, treated differently:
- structural (not JSON, wrong types, unknown event type, an id that is too long): the whole
  request is refused with 400 naming the field, and nothing is written;
- a product's untrusted display fields (a URL or image on a host the shop does not own, a name
  too long, a currency that is not an ISO code): the field is dropped, the event is kept, and the
  answer lists what was ignored with the field named, so a theme's sloppy JSON-LD does not cost
  the merchant the view itself.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from .cache import BoundedCache
from .errors import ApiError, bad_request
from .shops import Shop, normalize_origin

EVENT_TYPES = ("view", "add", "remove", "cart", "favorite", "unfavorite", "purchase", "impression", "click",
               "restore")
SECTIONS = ("cart", "viewed", "favorites", "similar")
MAX_ID = 64
MAX_NAME = 300
MAX_URL = 2048
MAX_CATEGORY = 200
MAX_ITEMS = 200
MAX_QTY = 9999
MAX_PRICE = 1e9
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass
class Product:
    id: str
    name: str | None = None
    price: float | None = None
    currency: str | None = None
    url: str | None = None
    image: str | None = None
    category: str | None = None
    in_stock: bool | None = None
    # The platform's own handle to put this product back in the cart (a Shopify variant id...):
    # kept with the visitor's cart line, never with the product.
    variant: str | None = None


# One line of a cart, an order or a restore: product id, quantity, price (orders and carts), variant.
Item = tuple[str, int, "float | None", "str | None"]


@dataclass
class Event:
    type: str
    product_id: str | None = None
    product: Product | None = None
    qty: int | None = None
    items: list[Item] = field(default_factory=list)
    order_id: str | None = None
    total: float | None = None
    currency: str | None = None
    block: str | None = None
    section: str | None = None
    ts: float | None = None


@dataclass
class Batch:
    shop: Shop
    token: Any
    events: list[Event]
    ignored: list[dict[str, str]]


def decode_json(raw: bytes, root: str = "") -> Any:
    """The decoded body; `root` prefixes the field named in an error (`settings`)."""
    try:
        return orjson.loads(raw)  # the usual, valid body
    except orjson.JSONDecodeError:
        pass  # a BOM, NaN, a huge integer, bad bytes...: the json module accepts or explains as before
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "body: not valid UTF-8", "body") from None
    if not text.strip():
        raise ApiError(400, "invalid_json", "body: empty; send a JSON object", "body")
    try:
        value = json.loads(text, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise ApiError(400, "invalid_json", f"body: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                       "body") from None
    except RecursionError:
        raise ApiError(400, "invalid_json", "body: JSON nested too deeply", "body") from None
    # orjson refuses lone surrogates; the json module keeps them, and SQLite (UTF-8) cannot store
    # them: refused here, naming where, before anything reaches the writer.
    where = surrogate_path(value)
    if where is not None:
        where = f"{root}.{where}" if root and where else where or root
        raise bad_request(where or "body", "not valid Unicode (a lone surrogate such as \\ud800)")
    return value


def _parse_int(digits: str) -> int | float:
    # Python refuses to convert more than 4,300 digits (ValueError, not a JSON error), and a float()
    # of an int past 1e308 overflows: long ones become floats (inf past 308 digits), which every
    # number check refuses as out of range, naming the field.
    return int(digits) if len(digits) <= 300 else float(digits)


_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def surrogate_path(value: Any) -> str | None:
    """Where in a decoded JSON value a string (or key) holds a lone surrogate: `events[0].product.name`,
    "" for the top level itself; None when nowhere. Iterative: nesting depth is the client's."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return where
        elif isinstance(node, dict):
            for key, item in node.items():
                at = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and _SURROGATE.search(key):
                    return where or "body"
                stack.append((item, at))
        elif isinstance(node, list):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node))
    return None


def _string(value: Any, where: str, max_len: int, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise bad_request(where, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise bad_request(where, f"must be a string, not {_kind(value)}")
    text = str(value).strip()
    if required and not text:
        raise bad_request(where, "must not be empty")
    if len(text) > max_len:
        raise bad_request(where, f"at most {max_len} characters (got {len(text)})")
    if _CONTROL.search(text):
        raise bad_request(where, "must not contain control characters")
    return text or None


def _required(value: Any, where: str, max_len: int) -> str:
    """A string that must be there and not be empty (ids)."""
    text = _string(value, where, max_len, required=True)
    assert text is not None  # _string raised otherwise
    return text


def _number(value: Any, where: str, lo: float = 0.0, hi: float = MAX_PRICE) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            raise bad_request(where, f"must be a number, not {value[:40]!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(where, f"must be a number, not {_kind(value)}")
    number = float(value)
    if not math.isfinite(number) or not lo <= number < hi:
        raise bad_request(where, f"must be between {lo:g} and {hi:g}")
    return number


def _qty(value: Any, where: str) -> int:
    if value is None:
        return 1
    if isinstance(value, float) and not math.isfinite(value):  # NaN, Infinity, 1e999: int() would raise
        raise bad_request(where, f"must be between 0 and {MAX_QTY}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise bad_request(where, "must be a whole number")
    if not 0 <= value <= MAX_QTY:
        raise bad_request(where, f"must be between 0 and {MAX_QTY}")
    return int(value)


def _currency(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _CURRENCY.match(value.strip().upper()):
        raise bad_request(where, "must be a 3-letter ISO 4217 code such as TRY")
    return value.strip().upper()


def _kind(value: Any) -> str:
    kinds = {dict: "an object", list: "a list", bool: "true/false", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _url(value: Any, where: str, allowed: list[str], ignored: list[dict[str, str]]) -> str | None:
    text = _string(value, where, MAX_URL)
    if text is None:
        return None
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        ignored.append({"field": where, "message": "only absolute http(s) URLs are kept"})
        return None
    if normalize_origin(text) not in allowed:
        ignored.append({"field": where, "message": "not on the shop's allowed origins"})
        return None
    return text


def _display(ignored: list[dict[str, str]], check: Callable[..., Any], *args: Any) -> Any:
    """A display field that fails its check is dropped and reported; the event itself is kept."""
    try:
        return check(*args)
    except ApiError as exc:
        ignored.append({"field": exc.field or "", "message": exc.message})
        return None


# Many visitors view the same products, and each view carries the same JSON-LD: the outcome of
# checking it is kept (keyed by everything it depends on).
_PRODUCT_FIELDS = ("id", "name", "price", "currency", "url", "image", "category", "in_stock", "variant")
_parsed: BoundedCache[tuple[Any, ...], tuple[Product, list[dict[str, str]]]] = BoundedCache(20_000)


def parse_product(value: Any, where: str, shop: Shop, ignored: list[dict[str, str]]) -> Product:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return Product(id=_required(value, where, MAX_ID))
    if not isinstance(value, dict):
        raise bad_request(where, f"must be a product object or an id, not {_kind(value)}")
    values = [value.get(name) for name in _PRODUCT_FIELDS]
    # Types too: True == 1 == 1.0 as keys, but they do not validate alike.
    key: tuple[Any, ...] | None = (shop.id, tuple(shop.origins), tuple(shop.asset_origins), where, *values,
                                   *map(type, values))
    try:
        hit = _parsed.get(key)  # type: ignore[arg-type]  # None never reaches here
    except TypeError:  # a list or object where a string belongs: not cacheable, checked below
        key, hit = None, None
    if hit is not None:
        ignored.extend(hit[1])
        return hit[0]
    own: list[dict[str, str]] = []
    product = _parse_product(value, where, shop, own)
    ignored.extend(own)
    if key is not None:
        _parsed.put(key, (product, own))
    return product


def _parse_product(value: dict[str, Any], where: str, shop: Shop, ignored: list[dict[str, str]]) -> Product:
    in_stock = value.get("in_stock")
    if in_stock is not None and not isinstance(in_stock, bool):
        ignored.append({"field": f"{where}.in_stock", "message": f"{where}.in_stock: must be true or false"})
        in_stock = None
    # Only the id is structural. Display fields come from whatever a theme's JSON-LD says
    # ("priceCurrency": "TL", a 400-character name): refusing the batch would lose the view too.
    return Product(
        id=_required(value.get("id"), f"{where}.id", MAX_ID),
        name=_display(ignored, _string, value.get("name"), f"{where}.name", MAX_NAME),
        price=_display(ignored, _number, value.get("price"), f"{where}.price"),
        currency=_display(ignored, _currency, value.get("currency"), f"{where}.currency"),
        url=_display(ignored, _url, value.get("url"), f"{where}.url", shop.origins, ignored),
        image=_display(ignored, _url, value.get("image"), f"{where}.image", shop.asset_origins, ignored),
        category=_display(ignored, _string, value.get("category"), f"{where}.category", MAX_CATEGORY),
        in_stock=in_stock,
        variant=_string(value.get("variant"), f"{where}.variant", MAX_ID),
    )


def _items(value: Any, where: str, with_price: bool) -> list[Item]:
    if not isinstance(value, list):
        raise bad_request(where, f"must be a list, not {_kind(value)}")
    if len(value) > MAX_ITEMS:
        raise bad_request(where, f"at most {MAX_ITEMS} items")
    items = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if isinstance(item, (str, int)) and not isinstance(item, bool):
            item = {"id": item}  # noqa: PLW2901 - a bare id is the short form of {"id": ...}
        if not isinstance(item, dict):
            raise bad_request(at, f"must be an object with an id, not {_kind(item)}")
        pid = _required(item.get("id"), f"{at}.id", MAX_ID)
        qty = _qty(item.get("qty"), f"{at}.qty")
        price = _number(item.get("price"), f"{at}.price") if with_price else None
        variant = _string(item.get("variant"), f"{at}.variant", MAX_ID)
        items.append((pid, qty, price, variant))
    return items


def parse_event(raw: Any, where: str, shop: Shop, ignored: list[dict[str, str]]) -> Event:
    if not isinstance(raw, dict):
        raise bad_request(where, f"must be an object, not {_kind(raw)}")
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        shown = kind[:40] if isinstance(kind, str) else kind
        raise bad_request(f"{where}.type", f"unknown event type {shown!r}; use one of {', '.join(EVENT_TYPES)}")
    event = Event(type=kind)
    if "ts" in raw:
        event.ts = _number(raw["ts"], f"{where}.ts", 0, 1e14)
    if kind in ("view", "add", "favorite"):
        source = raw.get("product", raw.get("id"))
        if source is None:
            raise bad_request(f"{where}.product", "is required")
        event.product = parse_product(source, f"{where}.product", shop, ignored)
        event.product_id = event.product.id
        if kind == "add":
            event.qty = max(1, _qty(raw.get("qty"), f"{where}.qty"))
    elif kind in ("remove", "unfavorite"):
        event.product_id = _required(raw.get("id"), f"{where}.id", MAX_ID)
    elif kind == "cart":
        event.items = _items(raw.get("items", []), f"{where}.items", with_price=True)
    elif kind == "purchase":
        event.order_id = _required(raw.get("order_id"), f"{where}.order_id", MAX_ID)
        event.total = _number(raw.get("total"), f"{where}.total")
        event.currency = _currency(raw.get("currency"), f"{where}.currency")
        event.items = _items(raw.get("items", []), f"{where}.items", with_price=True)
    elif kind == "restore":
        event.block = _required(raw.get("block"), f"{where}.block", MAX_ID)
        event.items = _items(raw.get("items", []), f"{where}.items", with_price=False)
    elif kind == "impression":
        event.block = _required(raw.get("block"), f"{where}.block", MAX_ID)
    elif kind == "click":
        event.block = _required(raw.get("block"), f"{where}.block", MAX_ID)
        event.product_id = _required(raw.get("id"), f"{where}.id", MAX_ID)
        section = _string(raw.get("section"), f"{where}.section", 32)
        if section is not None and section not in SECTIONS:
            raise bad_request(f"{where}.section", f"unknown section {section!r}")
        event.section = section
    return event


def parse_batch(payload: Any, shop: Shop, max_events: int) -> Batch:
    """Validate a decoded body whose shop is already resolved."""
    events_raw = payload.get("events", [])
    if not isinstance(events_raw, list):
        raise bad_request("events", f"must be a list, not {_kind(events_raw)}")
    if len(events_raw) > max_events:
        raise ApiError(400, "too_many_events",
                       f"events: at most {max_events} per request (got {len(events_raw)})", "events")
    vid = payload.get("vid")
    if vid is not None and not isinstance(vid, str):
        raise bad_request("vid", f"must be a string, not {_kind(vid)}")
    ignored: list[dict[str, str]] = []
    events = [parse_event(raw, f"events[{i}]", shop, ignored) for i, raw in enumerate(events_raw)]
    return Batch(shop=shop, token=vid, events=events, ignored=ignored)
