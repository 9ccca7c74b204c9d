"""The block's texts in Turkish and English. Merchants can replace any title per shop (settings.titles)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "tr": {
        "title": "Kaldığınız yerden devam edin",
        "cart": "Sepetinizdeydi",
        "viewed": "Son baktıklarınız",
        "favorites": "Favorileriniz",
        "similar": "Bunlar da ilginizi çekebilir",
        "out_of_stock": "Tükendi",
    },
    "en": {
        "title": "Pick up where you left off",
        "cart": "Was in your cart",
        "viewed": "Recently viewed",
        "favorites": "Your favourites",
        "similar": "You may also like",
        "out_of_stock": "Sold out",
    },
}

BABEL_LOCALES = {"tr": "tr_TR", "en": "en_US"}


def pick_locale(requested: object, default: str) -> str:
    if isinstance(requested, str):
        short = requested.strip().lower()[:2]
        if short in TEXTS:
            return short
    return default if default in TEXTS else "tr"


def text(locale: str, key: str, overrides: dict | None = None) -> str:
    if overrides:
        custom = overrides.get(locale, {}).get(key)
        if isinstance(custom, str) and custom:
            return custom
    return TEXTS[locale][key]
