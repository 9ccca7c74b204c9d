"""Which products go in which section of the block. Pure rules, no I/O.

The rules merchants ask for, and the complaints they answer: no section header without products,
no product twice, nothing out of stock, nothing in the current cart, a bought product not pushed
again, never random filler (an empty answer beats padding).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Callable, NamedTuple, Union

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


@dataclass
class Section:
    key: str
    products: list[dict[str, Any]] = field(default_factory=list)


def showable(product: dict[str, Any] | None) -> bool:
    """A card needs a name and a link, and the product must be in stock."""
    return bool(product and product.get("name") and product.get("url") and product.get("in_stock", 1))


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
    in_cart_now: set[str]  # in the shop's cart right now: shown nowhere
    bought: set[str]  # never offered again as "you may also like"


def section_candidates(history: list[HistoryItem], settings: dict[str, Any]) -> Candidates:
    rebuy = bool(settings.get("rebuy_in_cart_history"))
    cart: list[HistoryItem] = []
    viewed: list[HistoryItem] = []
    favorites: list[HistoryItem] = []
    in_cart_now: set[str] = set()
    bought: set[str] = set()
    for i in history:
        if i.in_cart:
            in_cart_now.add(i.product_id)
        done = False
        if i.bought_at is not None:
            bought.add(i.product_id)
            done = _bought_and_untouched(i)
        if i.carted_at is not None and (rebuy or not done):
            cart.append(i)
        if done:
            continue
        if i.viewed_at is not None:
            viewed.append(i)
        if i.fav_at is not None:
            favorites.append(i)
    # Newest first; equal times keep the history's order (a stable sort, reversed or not).
    cart.sort(key=_CARTED, reverse=True)
    viewed.sort(key=_VIEWED, reverse=True)
    favorites.sort(key=_FAVED, reverse=True)
    return Candidates(cart, viewed, favorites, in_cart_now, bought)


# "You may also like": the products, or a function asked for at most `room` of them when the
# section's turn comes (so the recommender looks up only what can still be shown).
Similar = Union[list[dict[str, Any]], Callable[[int], list[dict[str, Any]]]]


def build_sections(history: list[HistoryItem], similar: Similar, settings: dict[str, Any]) -> list[Section]:
    """The block's sections in the shop's order; empty list when nothing is worth showing."""
    candidates = section_candidates(history, settings)
    bought = candidates.bought
    order = [k for k in settings.get("sections", SECTION_KEYS) if k in SECTION_KEYS]
    max_per = settings.get("max_per_section", {})
    min_per = max(1, int(settings.get("min_per_section", 1)))
    max_block = max(1, int(settings.get("max_block", 8)))
    min_block = max(1, int(settings.get("min_block", 1)))

    used: set[str] = set(candidates.in_cart_now)
    sections: list[Section] = []
    total = 0
    for key in order:
        room = min(int(max_per.get(key, max_block)), max_block - total)
        if room < min_per:
            continue
        if key == "similar":
            pool = [p for p in (similar(room) if callable(similar) else similar) if p["id"] not in bought]
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
