"""Turkish and English texts, from gettext catalogs: `locales/<locale>/LC_MESSAGES/<domain>.po`.

Two domains, because both have a `title`: `block` (the empty cart's block; merchants can replace any
section title per shop, settings.titles) and `dashboard` (the marketers' pages). The message ids are
short keys (`sig_yes_up`), so the code reads as before; the .po files hold every text, English included.
They are read with Babel and compiled in memory at import: no generated .mo file to keep in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("tr", "en")
BABEL_LOCALES = {"tr": "tr_TR", "en": "en_US"}
DOMAINS = ("block", "dashboard")
LOCALE_DIR = Path(__file__).parent / "locales"


def read_catalog(locale: str, domain: str) -> Catalog:
    """One .po file as Babel reads it (tests check every message through this)."""
    with (LOCALE_DIR / locale / "LC_MESSAGES" / f"{domain}.po").open("rb") as f:
        return read_po(f, locale=locale, domain=domain)


def _compile(catalog: Catalog) -> Translations:
    buffer = BytesIO()
    write_mo(buffer, catalog)  # untranslated (empty) messages are left out, so they fall back
    buffer.seek(0)
    return Translations(buffer, domain=catalog.domain)


def _messages(catalog: Catalog) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


_CATALOGS = {(locale, domain): read_catalog(locale, domain) for locale in LOCALES for domain in DOMAINS}

# The block's texts by locale, as a mapping: templates (merchants' overrides too) read `t.restore`.
TEXTS: dict[str, dict[str, str]] = {locale: _messages(_CATALOGS[locale, "block"]) for locale in LOCALES}


def _translations(locale: str, domain: str) -> Translations:
    # A text missing in Turkish shows in English rather than as its key; one missing in both shows its key.
    translations = _compile(_CATALOGS[locale, domain])
    if locale != "en":
        translations.add_fallback(_compile(_CATALOGS["en", domain]))
    return translations


_TRANSLATIONS = {(locale, domain): _translations(locale, domain) for locale in LOCALES for domain in DOMAINS}


class Translate(Protocol):
    def __call__(self, key: str, /, **kw: Any) -> str: ...


def translator(locale: str, domain: str = "dashboard") -> Translate:
    """`t(key, **placeholders)`: the text of `key` in `locale`, its `{name}` placeholders filled."""
    gettext = _TRANSLATIONS[locale, domain].gettext

    def t(key: str, /, **kw: Any) -> str:
        value = gettext(key)
        return value.format(**kw) if kw else value
    return t


def pick_locale(requested: object, default: str) -> str:
    if isinstance(requested, str):
        short = requested.strip().lower()[:2]
        if short in LOCALES:
            return short
    return default if default in LOCALES else "tr"


def text(locale: str, key: str, overrides: Mapping[str, Mapping[str, object]] | None = None) -> str:
    """A block text, or the shop's own (settings.titles); an unknown locale or key raises KeyError."""
    if overrides:
        custom = overrides.get(locale, {}).get(key)
        if isinstance(custom, str) and custom:
            return custom
    return TEXTS[locale][key]
