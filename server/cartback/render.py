"""HTML for the block: Jinja2 with autoescaping, templates overridable by name, Babel money formats.

A product card depends only on the product's display fields, the locale and the template, so its
HTML is rendered once and reused: its render costs about as much as the block's database query.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from babel import Locale
from babel.numbers import format_currency, get_currency_symbol
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, Template, select_autoescape
from markupsafe import Markup

from . import i18n
from .block import Section
from .cache import BoundedCache

BUILTIN_TEMPLATES = Path(__file__).parent / "templates"
CARD_CACHE_SIZE = 20_000


@lru_cache(maxsize=4096)
def format_price(amount: float, currency: str, locale: str) -> str:
    """`₺249,90` in Turkish, `₺249.90` in English: the shop's currency sign in the reader's number format."""
    babel_locale = i18n.BABEL_LOCALES.get(locale, locale)
    symbol = get_currency_symbol(currency, babel_locale)
    if symbol == currency:
        # English CLDR data has no sign for the lira ("TRY249.90"); the home locale has one.
        symbol = get_currency_symbol(currency, "tr_TR")
    pattern = Locale.parse(babel_locale).currency_formats["standard"].pattern
    return format_currency(amount, currency, locale=babel_locale, format=pattern.replace("¤", f"'{symbol}'"))


class RenderedSection(NamedTuple):
    """What `block.html` gets for each section. Attributes, not a dict: Jinja looks `s.key` up as
    an attribute first, and a dict answers that with an AttributeError caught inside Jinja.
    `s["key"]` still works."""

    key: str
    title: str
    cards: list[Markup]  # each card's HTML
    cards_html: Markup  # the cards joined: one escape() call per section instead of one per card


class Renderer:
    def __init__(self, templates_dir: str | None = None) -> None:
        loaders = []
        if templates_dir:
            loaders.append(FileSystemLoader(templates_dir))
        loaders.append(FileSystemLoader(str(BUILTIN_TEMPLATES)))
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["price"] = format_price
        self._cards: BoundedCache[tuple[Any, ...], Markup] = BoundedCache(CARD_CACHE_SIZE)
        self._templates: BoundedCache[tuple[str, str], Template] = BoundedCache(10_000)

    def _template(self, shop_id: str, name: str) -> Template:
        # A merchant overrides one shop's look with shops/<shop>/cartback/<name>, or every shop's with
        # cartback/<name>. The choice is made once per shop: looking for a missing override costs a
        # disk check on every request (template changes need a restart, like code changes).
        key = (shop_id, name)
        template = self._templates.get(key)
        if template is None:
            template = self.env.select_template([f"shops/{shop_id}/cartback/{name}", f"cartback/{name}"])
            self._templates.put(key, template)
        return template

    def _render(self, shop_id: str, name: str, variables: dict[str, Any]) -> str:
        return self._template(shop_id, name).render(variables)

    def card(self, shop_id: str, section: str, product: dict[str, Any], locale: str, position: int) -> Markup:
        key = (shop_id, section, locale, position, product["id"], product["name"], product["url"],
               product.get("image"), product.get("price"), product.get("currency"), product.get("was_price"),
               product.get("back_in_stock"))
        html = self._cards.get(key)
        if html is None:
            html = Markup(self._render(shop_id, "card.html",
                                       {"p": product, "section": section, "locale": locale, "position": position,
                                        "t": i18n.TEXTS[locale]}))
            self._cards.put(key, html)
        return html

    def block(self, shop_id: str, block_id: str, sections: list[Section], locale: str,
              title_overrides: dict[str, Any] | None = None, can_restore: bool = False) -> str:
        rendered = []
        restore = None
        if can_restore:
            # What the restore button puts back: the cart-history cards (all in stock), as carted.
            lines = [{"id": p["id"], "variant": p.get("variant"), "qty": p.get("qty", 1)}
                     for s in sections if s.key == "cart" for p in s.products]
            if lines:
                restore = orjson.dumps(lines).decode()
        for s in sections:
            cards = [self.card(shop_id, s.key, p, locale, i) for i, p in enumerate(s.products)]
            rendered.append(RenderedSection(s.key, i18n.text(locale, s.key, title_overrides), cards,
                                            Markup("      " + "\n      ".join(cards))))
        return self._render(shop_id, "block.html", {
            "block_id": block_id, "locale": locale, "title": i18n.text(locale, "title", title_overrides),
            "sections": rendered, "restore": restore, "t": i18n.TEXTS[locale]})

    def clear(self) -> None:
        self._cards.clear()
        self._templates.clear()
