"""Which products go in which section of the block. Pure rules, no I/O.

The rules merchants ask for, and the complaints they answer: no section header without products,
no product twice, nothing out of stock, a bought product not pushed again, never random filler (an
empty answer beats padding).

Each product goes to the section of its strongest signal: in the cart before, then favourite, then
viewed (a favourite is also viewed on its own page, and a carted product was viewed too); the
shop's section order decides only the order on screen. The block is asked for when the page shows
an empty cart, so the cart is empty now: nothing is left out because the server still believed it
was in the cart (endpoints/empty_cart.py records the emptied cart).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, NamedTuple

from .products import showable

SECTION_KEYS = ("cart", "viewed", "favorites", "similar")


class HistoryItem(NamedTuple):
    """One product the visitor touched, with its catalog (or browser-reported) details.

    A tuple: a block builds one per product the visitor touched, and a tuple is made in one C call
    (`tuple.__new__(HistoryItem, row)`), a dataclass in a Python-level __init__."""

    product_id: str
    viewed_at: float | None
    views: int
    carted_at: float | None
    in_cart: bool | int  # truthy while in the shop's cart
    fav_at: float | None
    bought_at: float | None
    last_at: float
    product: dict[str, Any] | None  # None when the shop has no details for it
    cart_qty: int | None = None  # the cart line as it went in: quantity, the platform's variant,
    cart_variant: str | None = None  # and the price then (a lower price today is shown struck through)
    cart_price: float | None = None


@dataclass
class Section:
    key: str
    products: list[dict[str, Any]] = field(default_factory=list)


def _bought_and_untouched(item: HistoryItem) -> bool:
    # Bought, and not viewed, carted or favourited again since: do not push it again.
    if item.bought_at is None:
        return False
    later = max(item.viewed_at or 0, item.carted_at or 0, item.fav_at or 0)
    return later <= item.bought_at


_CARTED, _VIEWED, _FAVED = attrgetter("carted_at"), attrgetter("viewed_at"), attrgetter("fav_at")


class Candidates(NamedTuple):
    """The history sorted into what the rules need, in one pass over it."""

    cart: list[HistoryItem]
    viewed: list[HistoryItem]
    favorites: list[HistoryItem]
    bought: set[str]  # never offered again as "you may also like"


def section_candidates(history: list[HistoryItem], settings: dict[str, Any]) -> Candidates:
    rebuy = bool(settings.get("rebuy_in_cart_history"))
    shown = set(settings.get("sections", SECTION_KEYS))
    cart: list[HistoryItem] = []
    viewed: list[HistoryItem] = []
    favorites: list[HistoryItem] = []
    bought: set[str] = set()
    for i in history:
        done = False
        if i.bought_at is not None:
            bought.add(i.product_id)
            done = _bought_and_untouched(i)
        # The strongest signal among the sections the shop shows decides the one section.
        if i.carted_at is not None and "cart" in shown:
            if rebuy or not done:
                cart.append(i)
        elif done:
            continue
        elif i.fav_at is not None and "favorites" in shown:
            favorites.append(i)
        elif i.viewed_at is not None:
            viewed.append(i)
    # Newest first; equal times keep the history's order (a stable sort, reversed or not).
    cart.sort(key=_CARTED, reverse=True)
    viewed.sort(key=_VIEWED, reverse=True)
    favorites.sort(key=_FAVED, reverse=True)
    return Candidates(cart, viewed, favorites, bought)


def cart_line(item: HistoryItem) -> dict[str, Any] | None:
    """A cart-history card: the product with what went in the cart (quantity, variant) and why now:
    `was_price` when the price fell since, `back_in_stock` when it came back since."""
    product = item.product
    if product is None:
        return None
    line = {**product, "qty": item.cart_qty or 1, "variant": item.cart_variant}
    price, was = product.get("price"), item.cart_price
    if price is not None and was is not None and was - price >= 0.005:
        line["was_price"] = was
    restocked = product.get("restocked_at")
    if restocked is not None and item.carted_at is not None and restocked > item.carted_at:
        line["back_in_stock"] = True
    return line


# "You may also like": the products, or a function asked for at most `room` of them when the
# section's turn comes (so the recommender looks up only what can still be shown).
Similar = list[dict[str, Any]] | Callable[[int], list[dict[str, Any]]]


def build_sections(history: list[HistoryItem], similar: Similar, settings: dict[str, Any]) -> list[Section]:
    """The block's sections in the shop's order; empty list when nothing is worth showing."""
    candidates = section_candidates(history, settings)
    bought = candidates.bought
    order = [k for k in settings.get("sections", SECTION_KEYS) if k in SECTION_KEYS]
    max_per = settings.get("max_per_section", {})
    min_per = max(1, int(settings.get("min_per_section", 1)))
    max_block = max(1, int(settings.get("max_block", 8)))
    min_block = max(1, int(settings.get("min_block", 1)))

    used: set[str] = set()
    sections: list[Section] = []
    total = 0
    for key in order:
        room = min(int(max_per.get(key, max_block)), max_block - total)
        if room < min_per:
            continue
        if key == "similar":
            pool = [p for p in (similar(room) if callable(similar) else similar) if p["id"] not in bought]
        elif key == "cart":
            pool = [line for line in map(cart_line, candidates.cart) if line is not None]
        else:
            pool = [i.product for i in getattr(candidates, key) if i.product is not None]
        chosen: list[dict[str, Any]] = []
        for product in pool:
            if len(chosen) >= room:
                break
            if product["id"] in used or not showable(product):
                continue
            chosen.append(product)
        if len(chosen) < min_per:
            continue
        used.update(p["id"] for p in chosen)
        sections.append(Section(key, chosen))
        total += len(chosen)
    if total < min_block:
        return []
    return sections
