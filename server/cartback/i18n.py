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
        "restore": "Sepetimi geri yükle",
        "restore_partial": "Bazı ürünler sepete eklenemedi: {names}",
        "restore_failed": "Sepetiniz geri yüklenemedi. Ürünleri kendi sayfalarından ekleyebilirsiniz.",
        "back_in_stock": "Yeniden stokta",
        "price_was": "Önceki fiyat",
        "price_now": "Yeni fiyat",
    },
    "en": {
        "title": "Pick up where you left off",
        "cart": "Was in your cart",
        "viewed": "Recently viewed",
        "favorites": "Your favourites",
        "similar": "You may also like",
        "out_of_stock": "Sold out",
        "restore": "Restore my cart",
        "restore_partial": "Some products could not be added: {names}",
        "restore_failed": "We could not restore your cart. Please add the products from their pages.",
        "back_in_stock": "Back in stock",
        "price_was": "Was",
        "price_now": "Now",
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
