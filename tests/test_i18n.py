"""The gettext catalogs (server/cartback/locales/) and cartback.i18n's helpers."""

from __future__ import annotations

import re
from string import Formatter

import pytest
from cartback import i18n
from cartback.i18n import DOMAINS, LOCALES, read_catalog, text, translator

PRINTF = re.compile(r"%\(\w+\)[sdfr]")


def placeholders(value: str) -> set[str]:
    braces = {field for _, field, _, _ in Formatter().parse(value) if field is not None}
    return braces | set(PRINTF.findall(value))


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_message_has_a_text_in_both_languages(domain):
    catalogs = {locale: {m.id: m.string for m in read_catalog(locale, domain) if m.id} for locale in LOCALES}
    assert set(catalogs["tr"]) == set(catalogs["en"]), "the same message ids in each language"
    assert len(catalogs["en"]) > 10
    for locale, messages in catalogs.items():
        empty = [key for key, value in messages.items() if not value or not value.strip()]
        assert empty == [], (locale, domain)
        assert not any(m.fuzzy for m in read_catalog(locale, domain) if m.id), "a fuzzy text is not shown"


@pytest.mark.parametrize("domain", DOMAINS)
def test_placeholders_match_between_the_languages(domain):
    tr = {m.id: m.string for m in read_catalog("tr", domain) if m.id}
    en = {m.id: m.string for m in read_catalog("en", domain) if m.id}
    mismatched = {key: (placeholders(tr[key]), placeholders(en[key])) for key in en
                  if placeholders(tr[key]) != placeholders(en[key])}
    assert mismatched == {}


def test_placeholders_are_filled():
    assert translator("tr")("locked", minutes=15) == ("Çok fazla hatalı deneme yapıldı. Lütfen 15 dakika bekleyip "
                                                      "tekrar deneyin.")
    assert translator("en")("ci", lo="+1", hi="+3") == "95% range: +1 to +3"
    assert translator("tr")("ci", lo="+1", hi="+3") == "%95 aralık: +1 ile +3 arası", "a literal % is kept"
    assert text("tr", "restore_partial").format(names="Bal") == "Bazı ürünler sepete eklenemedi: Bal"


def test_the_block_texts_as_templates_read_them():
    assert i18n.TEXTS["tr"]["title"] == "Kaldığınız yerden devam edin"
    assert i18n.TEXTS["en"]["restore"] == "Restore my cart"
    assert set(i18n.TEXTS) == set(LOCALES)


def test_a_shops_own_titles_win_and_a_missing_block_text_fails_loudly():
    titles = {"tr": {"cart": "Sepetiniz", "viewed": ""}}
    assert text("tr", "cart", titles) == "Sepetiniz"
    assert text("tr", "viewed", titles) == "Son baktıklarınız", "an empty override is no override"
    assert text("en", "cart", titles) == "Was in your cart"
    with pytest.raises(KeyError):
        text("tr", "no_such_text")
    with pytest.raises(KeyError):
        text("de", "title")


def test_a_missing_dashboard_text_shows_in_english_then_as_its_key(monkeypatch):
    assert translator("en")("no_such_text") == "no_such_text"
    assert translator("tr")("no_such_text", n=3) == "no_such_text"
    # A text not yet translated into Turkish shows in English rather than as its key.
    turkish = read_catalog("tr", "dashboard")
    turkish.delete("so_far")
    monkeypatch.setitem(i18n._CATALOGS, ("tr", "dashboard"), turkish)
    monkeypatch.setitem(i18n._TRANSLATIONS, ("tr", "dashboard"), i18n._translations("tr", "dashboard"))
    assert translator("tr")("so_far") == "today, so far"
    assert translator("tr")("total") == "Toplam"


def test_pick_locale():
    assert i18n.pick_locale("en-GB", "tr") == "en"
    assert i18n.pick_locale(" TR ", "en") == "tr"
    assert i18n.pick_locale("de", "en") == "en"
    assert i18n.pick_locale(None, "fr") == "tr"
