"""/dashboard: the measured results for a shop's marketers, in Turkish and English.

Sign-in takes the shop id and its API key once; after that the browser holds only a signed,
expiring session cookie (itsdangerous, salt `cartback.dashboard`, HttpOnly, SameSite=Lax), never
the key. The session carries a fingerprint of the key's hash, so a new key ends old sessions.

Pages are rendered on the server (Jinja2, autoescaped) with the figures of
`cartback.report.report_json` and hand-drawn SVG charts; the only script is a static file that adds
tooltips. The pages send a strict Content-Security-Policy (no inline scripts or styles).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import math
import re
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from babel.dates import format_date
from babel.numbers import format_compact_decimal, format_decimal, format_percent
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..config import asset_dir
from ..http import BODY_TIMEOUT
from ..i18n import BABEL_LOCALES
from ..render import BUILTIN_TEMPLATES, format_price
from ..report import FIRST_DATE, LAST_DATE
from ..shops import SHOP_ID, Shop

PURPOSE = "cartback.dashboard"
SESSION_COOKIE = "cartback_session"
LANG_COOKIE = "cartback_lang"
SESSION_MAX_AGE = 12 * 3600
LOCALES = ("tr", "en")
DEFAULT_DAYS = 90
MAX_DAYS = 2 * 366
PRESETS = (7, 30, 90)
# Against guessing keys: every failure waits, and too many for one shop (from one address, or from
# anywhere) lock that shop's sign-in for a while. A browser that signed in to the shop before
# carries a device cookie and is judged by its own failures only, so someone who fails on purpose
# cannot lock the merchant out (OWASP's device cookies).
FAIL_DELAY = 0.75
FAIL_WINDOW = 15 * 60
MAX_FAILS_PER_ADDRESS = 5
MAX_FAILS_PER_SHOP = 20
MAX_FAILS_PER_DEVICE = 5
DEVICE_COOKIE = "cartback_device"
DEVICE_PURPOSE = "cartback.dashboard.device"
DEVICE_MAX_AGE = 365 * 86400

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}

STATIC = asset_dir("static") / "dashboard"
log = logging.getLogger("cartback")


# --- texts -------------------------------------------------------------------------------------

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "lang_name": "English",
        "title": "Cartback results",
        "tagline": "The “continue where you left off” block on your empty cart",
        "signin_title": "Sign in to your results",
        "signin_intro": "Use your shop id and the API key you received when the shop was created.",
        "shop_id": "Shop id",
        "api_key": "API key",
        "api_key_help": "Printed once by “cartback shop add” (or “cartback demo”). It stays on the server: "
                        "your browser only keeps a sign-in cookie that expires after 12 hours.",
        "signin": "Sign in",
        "signout": "Sign out",
        "wrong_key": "That shop id and API key do not match. Check both and try again.",
        "locked": "Too many wrong attempts. Please wait {minutes} minutes and try again.",
        "expired": "Your session has ended. Please sign in again.",
        "bad_request": "The form could not be read. Please try again.",
        "shop": "Shop",
        "preview": "Preview on the demo shop",
        "open_shop": "Open the shop",
        "period": "Period",
        "from": "From",
        "to": "To",
        "apply": "Show",
        "last_n_days": "Last {n} days",
        "bad_dates": "Those dates could not be used; showing the last {n} days instead.",
        "window_badge": "{n}-day window",
        "window_note": "“Attributed” means a purchase of a product the visitor clicked in the block, "
                       "made within {n} days of the click.",
        "headline": "At a glance",
        "impressions": "Block views",
        "impressions_help": "Times the block was on screen (at least half of it, or half the screen for a very tall block).",
        "rendered_sub": "{n} blocks shown on empty carts",
        "visitors": "Visitors reached",
        "visitors_help": "Different people who saw the block.",
        "per_visitor": "{n} views per visitor",
        "clicked": "Clicked a product",
        "clicked_help": "Share of the visitors reached who clicked a product in the block.",
        "clicked_sub": "{n} visitors, {c} clicks",
        "click_purchase": "Clicks that led to a purchase",
        "click_purchase_help": "Share of the visitors who clicked and then bought the clicked product.",
        "click_purchase_sub": "{n} of {m} visitors who clicked",
        "orders": "Orders from the block",
        "orders_help": "Orders containing a product clicked in the block.",
        "orders_sub": "of {n} orders tracked in total",
        "revenue": "Revenue from the block",
        "revenue_help": "Value of the clicked products in those orders.",
        "revenue_sub": "Whole orders: {v}",
        "share": "Share of total revenue",
        "share_help": "Revenue from the block divided by all revenue tracked in the period.",
        "share_sub": "of {v} total revenue",
        "verdict_card": "Does the block add sales?",
        "restores_title": "Carts restored in one click",
        "restored": "Carts restored",
        "restored_help": "Visitors who put their earlier cart back with the block's button.",
        "restored_sub": "{n} items back in the cart",
        "restore_orders": "Orders after a restore",
        "restore_orders_help": "Orders by those visitors within the attribution window after the restore.",
        "restore_orders_sub": "Revenue: {v}",
        "charts": "Day by day",
        "charts_weekly": "Week by week",
        "chart_impressions": "Block views",
        "chart_clicks": "Clicks",
        "chart_orders": "Orders from the block",
        "chart_revenue": "Revenue from the block",
        "total": "Total",
        "no_data": "No data in this period yet.",
        "week_of": "Week of {d}",
        "sections": "By section of the block",
        "sections_intro": "Which part of the block works best. Views count every block a section appeared in.",
        "section": "Section",
        "sec_cart": "Was in the cart",
        "sec_viewed": "Recently viewed",
        "sec_favorites": "Favourites",
        "sec_similar": "Recommendations",
        "col_views": "Views",
        "col_visitors": "Visitors",
        "col_clicks": "Clicks",
        "col_ctr": "Clicked",
        "col_orders": "Orders",
        "col_revenue": "Revenue",
        "all_sections": "Whole block",
        "holdout": "Holdout test: would these visitors have bought anyway?",
        "holdout_intro": "{share} of visitors with an empty cart are picked at random and never see the block "
                         "(the control group). Comparing them with everyone else (who see it) shows what the "
                         "block really adds.",
        "holdout_off": "The holdout test is switched off for this shop, so there is no control group to compare "
                       "with. Set holdout_share (for example 0.1) to measure the block's real effect.",
        "holdout_empty": "No visitor has reached an empty cart in this period yet.",
        "date_placeholder": "yyyy-mm-dd",
        "holdout_now_off": "The holdout is switched off now, but this period has a control group from before: "
                           "the comparison below uses it.",
        "holdout_changed": "The size of the control group changed on {date}: figures before and after that day "
                           "come from different settings.",
        "control": "Control (no block)",
        "treatment": "Saw the block",
        "hd_visitors": "Visitors",
        "hd_conversion": "Bought something",
        "hd_rpv": "Revenue per visitor",
        "difference": "Difference",
        "uplift_conv": "Purchase rate",
        "uplift_rpv": "Revenue per visitor",
        "ci": "95% range: {lo} to {hi}",
        "points": "{v} points",
        "relative": "{v} relative",
        "sig_yes_up": "Visitors who see the block buy more, and the difference is too large to be chance "
                      "(95% confidence).",
        "sig_yes_down": "Visitors who see the block buy less, and the difference is unlikely to be chance "
                        "(95% confidence).",
        "sig_not_yet_up": "So far visitors who see the block buy a little more, but the difference "
                          "could still be chance. Keep the test running: more visitors give a clearer answer.",
        "sig_not_yet": "There is no clear difference between the groups so far; it could still "
                       "be chance. Keep the test running: more visitors give a clearer answer.",
        "sig_rpv_up": "Visitors who see the block spend more per visitor, and that difference is too large to be "
                      "chance (95% confidence). Whether more of them buy is not certain yet.",
        "sig_rpv_down": "Visitors who see the block spend less per visitor, and that difference is unlikely to be "
                        "chance (95% confidence).",
        "sig_short_yes": "Yes, significantly",
        "sig_short_down": "No, it lowers sales",
        "sig_short_not_yet": "Not certain yet",
        "sig_short_off": "Holdout is off",
        "ci_legend": "Dot: measured difference. Bar: range where the true difference lies with 95% confidence. "
                     "If the bar crosses zero, the result is not yet significant.",
        "glossary": "How these figures are counted",
        "gl_views": "Block views count a block once when at least half of it was on screen.",
        "gl_clicks": "Clicks count each product once per block.",
        "gl_attr": "A purchase is credited to the block when the visitor clicked that product in the block "
                   "within the {n} days before buying; revenue counts only the clicked products.",
        "gl_holdout": "The holdout compares purchases of both groups from the moment they first reached an "
                      "empty cart, within the same {n} days.",
        "gl_bots": "Search-engine robots are never counted.",
        "csv": "Download as CSV",
        "report_unavailable": "The report could not be computed right now. Please try again in a moment.",
        "updated": "Times in UTC. Figures as of {t}.",
        "tooltip_hint": "Point at a day to see its figures.",
        "so_far": "today, so far",
    },
    "tr": {
        "lang_name": "Türkçe",
        "title": "Cartback sonuçları",
        "tagline": "Boş sepetteki “kaldığınız yerden devam edin” bloğu",
        "signin_title": "Sonuçlarınıza giriş yapın",
        "signin_intro": "Mağaza kimliğinizi ve mağaza oluşturulurken verilen API anahtarını girin.",
        "shop_id": "Mağaza kimliği",
        "api_key": "API anahtarı",
        "api_key_help": "“cartback shop add” (veya “cartback demo”) tarafından bir kez yazdırılır. Anahtar "
                        "sunucuda kalır: tarayıcınız yalnızca 12 saat sonra sona eren bir oturum çerezi saklar.",
        "signin": "Giriş yap",
        "signout": "Çıkış yap",
        "wrong_key": "Mağaza kimliği ile API anahtarı eşleşmiyor. İkisini de kontrol edip tekrar deneyin.",
        "locked": "Çok fazla hatalı deneme yapıldı. Lütfen {minutes} dakika bekleyip tekrar deneyin.",
        "expired": "Oturumunuz sona erdi. Lütfen yeniden giriş yapın.",
        "bad_request": "Form okunamadı. Lütfen tekrar deneyin.",
        "shop": "Mağaza",
        "preview": "Demo mağazada önizle",
        "open_shop": "Mağazayı aç",
        "period": "Dönem",
        "from": "Başlangıç",
        "to": "Bitiş",
        "apply": "Göster",
        "last_n_days": "Son {n} gün",
        "bad_dates": "Bu tarihler kullanılamadı; bunun yerine son {n} gün gösteriliyor.",
        "window_badge": "{n} günlük pencere",
        "window_note": "“Bloktan gelen” satış: ziyaretçinin blokta tıkladığı bir ürünü, tıklamadan sonraki "
                       "{n} gün içinde satın alması.",
        "headline": "Özet",
        "impressions": "Blok görüntülenmesi",
        "impressions_help": "Bloğun ekranda görüldüğü sayı (en az yarısı; çok uzun bir blokta ekranın yarısı).",
        "rendered_sub": "Boş sepetlerde {n} blok gösterildi",
        "visitors": "Ulaşılan ziyaretçi",
        "visitors_help": "Bloğu gören farklı kişi sayısı.",
        "per_visitor": "Ziyaretçi başına {n} görüntülenme",
        "clicked": "Ürüne tıklayan",
        "clicked_help": "Bloğu gören ziyaretçilerden bir ürüne tıklayanların oranı.",
        "clicked_sub": "{n} ziyaretçi, {c} tıklama",
        "click_purchase": "Satışa dönen tıklamalar",
        "click_purchase_help": "Tıklayan ziyaretçilerden tıkladığı ürünü satın alanların oranı.",
        "click_purchase_sub": "Tıklayan {m} ziyaretçiden {n} kişi",
        "orders": "Bloktan gelen siparişler",
        "restores_title": "Tek tıkla geri yüklenen sepetler",
        "restored": "Geri yüklenen sepetler",
        "restored_help": "Önceki sepetini bloktaki düğmeyle geri yükleyen ziyaretçiler.",
        "restored_sub": "Sepete dönen {n} ürün",
        "restore_orders": "Geri yüklemeden sonra siparişler",
        "restore_orders_help": "Bu ziyaretçilerin geri yüklemeden sonra, ilişkilendirme süresi içindeki siparişleri.",
        "restore_orders_sub": "Ciro: {v}",
        "orders_help": "Blokta tıklanan bir ürünü içeren siparişler.",
        "orders_sub": "toplam {n} siparişin içinde",
        "revenue": "Bloktan gelen ciro",
        "revenue_help": "Bu siparişlerdeki tıklanan ürünlerin tutarı.",
        "revenue_sub": "Siparişlerin tamamı: {v}",
        "share": "Toplam cirodaki payı",
        "share_help": "Bloktan gelen ciro / dönemde izlenen tüm ciro.",
        "share_sub": "toplam {v} ciro içinde",
        "verdict_card": "Blok satışları artırıyor mu?",
        "charts": "Gün gün",
        "charts_weekly": "Hafta hafta",
        "chart_impressions": "Blok görüntülenmesi",
        "chart_clicks": "Tıklamalar",
        "chart_orders": "Bloktan gelen siparişler",
        "chart_revenue": "Bloktan gelen ciro",
        "total": "Toplam",
        "no_data": "Bu dönemde henüz veri yok.",
        "week_of": "{d} haftası",
        "sections": "Bloğun bölümlerine göre",
        "sections_intro": "Bloğun hangi bölümü daha iyi çalışıyor. Görüntülenme, bölümün yer aldığı her bloğu sayar.",
        "section": "Bölüm",
        "sec_cart": "Sepetinizdeydi",
        "sec_viewed": "Son baktıkları",
        "sec_favorites": "Favoriler",
        "sec_similar": "Öneriler",
        "col_views": "Görüntülenme",
        "col_visitors": "Ziyaretçi",
        "col_clicks": "Tıklama",
        "col_ctr": "Tıklayan",
        "col_orders": "Sipariş",
        "col_revenue": "Ciro",
        "all_sections": "Bloğun tamamı",
        "holdout": "Kontrol grubu testi: bu ziyaretçiler zaten satın alır mıydı?",
        "holdout_intro": "Sepeti boş olan ziyaretçilerin {share} kadarı rastgele seçilir ve bloğu hiç görmez "
                         "(kontrol grubu). Onları bloğu gören diğer herkesle karşılaştırmak, bloğun gerçek "
                         "katkısını gösterir.",
        "holdout_off": "Bu mağazada kontrol grubu testi kapalı, bu yüzden karşılaştırılacak bir grup yok. Bloğun "
                       "gerçek etkisini ölçmek için holdout_share ayarını (örneğin 0.1) açın.",
        "holdout_empty": "Bu dönemde henüz boş sepete ulaşan ziyaretçi yok.",
        "date_placeholder": "gg.aa.yyyy",
        "holdout_now_off": "Kontrol grubu testi şu an kapalı, ancak bu dönemde daha önceden bir kontrol grubu var: "
                           "aşağıdaki karşılaştırma onu kullanır.",
        "holdout_changed": "Kontrol grubunun büyüklüğü {date} tarihinde değişti: o günden önceki ve sonraki "
                           "rakamlar farklı ayarlardan gelir.",
        "control": "Kontrol (blok yok)",
        "treatment": "Bloğu gördü",
        "hd_visitors": "Ziyaretçi",
        "hd_conversion": "Satın aldı",
        "hd_rpv": "Ziyaretçi başına ciro",
        "difference": "Fark",
        "uplift_conv": "Satın alma oranı",
        "uplift_rpv": "Ziyaretçi başına ciro",
        "ci": "%95 aralık: {lo} ile {hi} arası",
        "points": "{v} puan",
        "relative": "göreli {v}",
        "sig_yes_up": "Bloğu gören ziyaretçiler daha çok satın alıyor ve fark tesadüf olamayacak kadar büyük "
                      "(%95 güven).",
        "sig_yes_down": "Bloğu gören ziyaretçiler daha az satın alıyor ve fark büyük olasılıkla tesadüf "
                        "değil (%95 güven).",
        "sig_not_yet_up": "Şimdiye kadar bloğu görenler biraz daha fazla satın alıyor, ancak fark "
                          "hâlâ tesadüf olabilir. Teste devam edin: ziyaretçi arttıkça sonuç netleşir.",
        "sig_not_yet": "Şimdiye kadar gruplar arasında belirgin bir fark yok; tesadüf olabilir. "
                       "Teste devam edin: ziyaretçi arttıkça sonuç netleşir.",
        "sig_rpv_up": "Bloğu gören ziyaretçiler ziyaretçi başına daha çok harcıyor ve bu fark tesadüf olamayacak "
                      "kadar büyük (%95 güven). Daha çok kişinin satın alıp almadığı henüz kesin değil.",
        "sig_rpv_down": "Bloğu gören ziyaretçiler ziyaretçi başına daha az harcıyor ve bu fark büyük olasılıkla "
                        "tesadüf değil (%95 güven).",
        "sig_short_yes": "Evet, anlamlı biçimde",
        "sig_short_down": "Hayır, satışı düşürüyor",
        "sig_short_not_yet": "Henüz kesin değil",
        "sig_short_off": "Kontrol grubu kapalı",
        "ci_legend": "Nokta: ölçülen fark. Çubuk: gerçek farkın %95 güvenle bulunduğu aralık. Çubuk sıfırı "
                     "kesiyorsa sonuç henüz anlamlı değildir.",
        "glossary": "Bu rakamlar nasıl hesaplanıyor",
        "gl_views": "Blok görüntülenmesi, bloğun en az yarısı ekranda göründüğünde bir kez sayılır.",
        "gl_clicks": "Tıklamalar, her blokta her ürün için bir kez sayılır.",
        "gl_attr": "Ziyaretçi bir ürünü satın almadan önceki {n} gün içinde o ürüne blokta tıkladıysa satış bloğa "
                   "yazılır; ciroya yalnızca tıklanan ürünler girer.",
        "gl_holdout": "Kontrol grubu testi, iki grubun satın almalarını boş sepete ilk ulaştıkları andan itibaren "
                      "aynı {n} gün içinde karşılaştırır.",
        "gl_bots": "Arama motoru robotları hiçbir zaman sayılmaz.",
        "csv": "CSV olarak indir",
        "report_unavailable": "Rapor şu anda hesaplanamadı. Lütfen biraz sonra tekrar deneyin.",
        "updated": "Saatler UTC. Rakamlar {t} itibarıyla.",
        "tooltip_hint": "Bir günün rakamlarını görmek için üzerine gelin.",
        "so_far": "bugün, şu ana kadar",
    },
}


def _t(locale: str):
    texts = TEXTS[locale]

    def t(key: str, **kw: Any) -> str:
        value = texts.get(key) or TEXTS["en"].get(key, key)
        return value.format(**kw) if kw else value
    return t


# --- number formats -----------------------------------------------------------------------------

class Fmt:
    """Numbers, money, percentages and dates in the reader's language (Babel/CLDR)."""

    def __init__(self, locale: str, currency: str) -> None:
        self.locale = locale
        self.babel = BABEL_LOCALES.get(locale, locale)
        self.currency = currency

    def num(self, value: Any) -> str:
        return format_decimal(value or 0, format="#,##0", locale=self.babel)

    def dec(self, value: Any, digits: int = 1) -> str:
        return format_decimal(value or 0, format="#,##0." + "0" * digits, locale=self.babel)

    def pct(self, value: Any, digits: int = 1, sign: bool = False) -> str:
        value = float(value or 0)
        text = format_percent(abs(value) if sign else value, format=_percent_pattern(self.babel, digits),
                              locale=self.babel)
        if sign:
            text = ("+" if value > 0 else "−" if value < 0 else "±") + text
        return text

    def points(self, value: Any, digits: int = 1) -> str:
        # A difference of two rates, in percentage points: 0.007 → "+0.7".
        value = float(value or 0) * 100
        text = format_decimal(abs(value), format="#,##0." + "0" * digits, locale=self.babel)
        return ("+" if value > 0 else "−" if value < 0 else "±") + text

    def money(self, value: Any) -> str:
        return format_price(float(value or 0), self.currency, self.locale)

    def money_signed(self, value: Any) -> str:
        value = float(value or 0)
        return ("+" if value > 0 else "−" if value < 0 else "±") + self.money(abs(value))

    def compact(self, value: float, money: bool = False) -> str:
        if abs(value) < 1000:
            text = format_decimal(value, format="#,##0.#", locale=self.babel)
        else:
            text = format_compact_decimal(value, locale=self.babel, fraction_digits=1)
        if money:
            sign = format_price(0, self.currency, self.locale)
            return sign.replace(format_decimal(0, format="0.00", locale=self.babel), text)
        return text

    def date(self, day: dt.date, fmt: str = "d MMM y") -> str:
        return format_date(day, fmt, locale=self.babel)

    def field_date(self, day: dt.date) -> str:
        """A date as typed in the period fields: 05.09.2026 in Turkish, 2026-09-05 in English."""
        return day.strftime("%d.%m.%Y") if self.babel.startswith("tr") else day.isoformat()

    def short_date(self, day: dt.date) -> str:
        return format_date(day, "d MMM", locale=self.babel)


@lru_cache(maxsize=16)
def _percent_pattern(babel_locale: str, digits: int) -> str:
    from babel import Locale
    pattern = Locale.parse(babel_locale).percent_formats[None].pattern
    return pattern.replace("#,##0", "#,##0" + ("." + "0" * digits if digits else ""), 1)


# --- sessions -----------------------------------------------------------------------------------

async def _serializer(request: Request, purpose: str = PURPOSE) -> URLSafeTimedSerializer:
    """The server secret under a purpose: a session token is never a device cookie, nor back."""
    state = request.app.state
    serializers = getattr(state, "dashboard_serializers", None)
    if serializers is None:
        serializers = state.dashboard_serializers = {}
    serializer = serializers.get(purpose)
    if serializer is None:
        row = await state.db.fetchone("SELECT value FROM meta WHERE key = 'secret'")
        if row is None:  # pragma: no cover - the app writes it at start-up
            raise RuntimeError("server secret missing")
        serializer = serializers[purpose] = URLSafeTimedSerializer(row[0], salt=purpose)
    return serializer


def _key_print(shop: Shop) -> str:
    return hashlib.sha256(("dashboard:" + shop.api_key_hash).encode()).hexdigest()[:16]


@dataclass
class Session:
    shop: Shop
    csrf: str


async def current_session(request: Request) -> Session | None:
    """The signed-in shop of a dashboard request, or None (missing, forged, expired or revoked)."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw or len(raw) > 1000:
        return None
    try:
        data = (await _serializer(request)).loads(raw, max_age=SESSION_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("s"), str) or not isinstance(data.get("c"), str):
        return None
    shop = await request.app.state.shops.get(data["s"])
    if shop is None or not hmac.compare_digest(str(data.get("k", "")), _key_print(shop)):
        return None
    if await request.app.state.db.fetchone("SELECT 1 FROM meta WHERE key = ?", (_REVOKED + data["c"],)):
        return None  # signed out: the cookie may live on in a copy, the session does not
    return Session(shop, data["c"])


# Signed-out sessions by their random id (meta rows until the cookie would have expired anyway).
_REVOKED = "revoked_session:"


def _revoke(conn, session_id: str, now: float) -> None:
    conn.execute("DELETE FROM meta WHERE key >= ? AND key < ? AND CAST(value AS REAL) < ?",
                 (_REVOKED, _REVOKED[:-1] + ";", now))
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                 (_REVOKED + session_id, repr(now + SESSION_MAX_AGE)))


async def session_shop(request: Request) -> Shop | None:
    """For other endpoints (the report API) that also accept a dashboard session."""
    session = await current_session(request)
    return session.shop if session else None


class _Attempts:
    """Failed sign-ins per address and per shop, in a sliding window."""

    def __init__(self) -> None:
        self.fails: dict[str, list[float]] = {}

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self.fails.get(key, []) if t > now - FAIL_WINDOW]
        if times:
            self.fails[key] = times
        else:
            self.fails.pop(key, None)
        return times

    @staticmethod
    def _limits(address: str, shop: str, device: str | None) -> tuple[tuple[str, int], ...]:
        if device is not None:
            return ((f"d:{device}:{shop}", MAX_FAILS_PER_DEVICE),)
        return ((f"a:{address}:{shop}", MAX_FAILS_PER_ADDRESS), (f"s:{shop}", MAX_FAILS_PER_SHOP))

    def locked_for(self, address: str, shop: str, device: str | None = None) -> float:
        now = time.monotonic()
        waits = []
        for key, limit in self._limits(address, shop, device):
            times = self._recent(key, now)
            if len(times) >= limit:
                waits.append(times[-limit] + FAIL_WINDOW - now)
        return max(waits, default=0.0)

    MAX_KEYS = 50_000

    def fail(self, address: str, shop: str, device: str | None = None, known: bool = True) -> None:
        """`known`: the shop exists. Failures for ids that are no shop count per address only, under
        one key, so random shop ids cannot fill the table; a full table drops what has expired,
        then per-address entries, never a shop's own count (clearing it would unlock the shop)."""
        now = time.monotonic()
        if len(self.fails) > self.MAX_KEYS:
            self._prune(now)
        limits = self._limits(address, shop, device) if known else ((f"a:{address}:?", MAX_FAILS_PER_ADDRESS),)
        for key, _ in limits:
            self.fails.setdefault(key, []).append(now)

    def _prune(self, now: float) -> None:
        for key in list(self.fails):
            self._recent(key, now)
        if len(self.fails) > self.MAX_KEYS:
            oldest = sorted((times[-1], key) for key, times in self.fails.items() if key.startswith(("a:", "d:")))
            for _, key in oldest[:len(self.fails) - self.MAX_KEYS // 2]:
                del self.fails[key]

    def success(self, address: str, shop: str, device: str | None = None) -> None:
        for key, _ in self._limits(address, shop, device)[:1]:
            self.fails.pop(key, None)


def _attempts(request: Request) -> _Attempts:
    state = request.app.state
    attempts = getattr(state, "dashboard_attempts", None)
    if attempts is None:
        attempts = state.dashboard_attempts = _Attempts()
    return attempts


def _same_origin(request: Request) -> bool:
    """A POST from our own pages: Origin (or Referer) names this host, or the browser sent neither."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc.lower() == request.headers.get("host", "").lower()


# --- language -----------------------------------------------------------------------------------

def _locale(request: Request, shop: Shop | None = None) -> tuple[str, bool]:
    """(locale, remember): ?lang= wins and is remembered, then the cookie, the shop, the browser."""
    asked = request.query_params.get("lang", "")
    if asked in LOCALES:
        return asked, True
    cookie = request.cookies.get(LANG_COOKIE, "")
    if cookie in LOCALES:
        return cookie, False
    if shop is not None and shop.locale in LOCALES:
        return shop.locale, False
    accept = request.headers.get("accept-language", "").lower()
    for part in accept.split(","):
        code = part.strip()[:2]
        if code in LOCALES:
            return code, False
    return "tr", False


def _lang_links(request: Request, locale: str) -> list[dict[str, Any]]:
    params = dict(request.query_params)
    links = []
    for code in LOCALES:
        params["lang"] = code
        links.append({"code": code, "label": code.upper(), "name": TEXTS[code]["lang_name"],
                      "href": f"{request.url.path}?{urlencode(params)}", "active": code == locale})
    return links


# --- templates ------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(BUILTIN_TEMPLATES / "dashboard")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


@lru_cache(maxsize=8)
def _asset_version(name: str, mtime: float) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:10]


def _asset(name: str) -> str:
    path = STATIC / name
    try:
        version = _asset_version(name, path.stat().st_mtime)
    except OSError:
        version = "0"
    return f"/static/dashboard/{name}?v={version}"


def _page(request: Request, template: str, locale: str, status: int = 200, remember: bool = False,
          **context: Any) -> HTMLResponse:
    html = _env().get_template(template).render(
        t=_t(locale), locale=locale, langs=_lang_links(request, locale), asset=_asset, **context)
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if remember:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86400, path="/dashboard", samesite="lax",
                            httponly=True, secure=request.url.scheme == "https")
    return response


# --- sign-in and sign-out -----------------------------------------------------------------------

async def _read_form(request: Request, limit: int = 4096) -> dict[str, str]:
    body = b""
    try:
        async with asyncio.timeout(BODY_TIMEOUT):  # a stalled sign-in form must not hold its connection
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise ValueError("form too large")
    except TimeoutError:
        raise ValueError("form not received in time") from None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=10)
    return {k: v[0] for k, v in fields.items()}


async def login_page(request: Request) -> Response:
    if await current_session(request) is not None:
        return RedirectResponse("/dashboard", status_code=303, headers=SECURITY_HEADERS)
    locale, remember = _locale(request)
    notice = "expired" if request.query_params.get("expired") else None
    return _page(request, "login.html", locale, remember=remember, error=None, notice=notice,
                 shop_id=request.query_params.get("shop", "")[:63])


async def login(request: Request) -> Response:
    locale, _ = _locale(request)
    t = _t(locale)
    try:
        form = await _read_form(request)
    except (ValueError, UnicodeDecodeError):
        form = None
    if form is None or not _same_origin(request):
        return _page(request, "login.html", locale, status=400, error=t("bad_request"), notice=None, shop_id="")
    shop_id = form.get("shop", "").strip().lower()[:63]
    key = form.get("key", "").strip()[:200]
    address = request.client.host if request.client else "?"
    device = await _device(request, shop_id)
    attempts = _attempts(request)
    wait = attempts.locked_for(address, shop_id, device)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        return _page(request, "login.html", locale, status=429, error=t("locked", minutes=minutes), notice=None,
                     shop_id=shop_id)
    shop = await request.app.state.shops.get(shop_id) if SHOP_ID.match(shop_id) else None
    if shop is None or not key or not shop.check_key(key):
        attempts.fail(address, shop_id, device, known=shop is not None)
        await asyncio.sleep(FAIL_DELAY)
        return _page(request, "login.html", locale, status=401, error=t("wrong_key"), notice=None, shop_id=shop_id)
    attempts.success(address, shop.id, device)
    token = (await _serializer(request)).dumps({"s": shop.id, "k": _key_print(shop), "c": secrets.token_urlsafe(16)})
    response = RedirectResponse("/dashboard", status_code=303, headers=SECURITY_HEADERS)
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, token, max_age=SESSION_MAX_AGE, path="/", httponly=True, samesite="lax",
                        secure=secure)
    if device is None:
        mark = (await _serializer(request, DEVICE_PURPOSE)).dumps({"s": shop.id, "d": secrets.token_urlsafe(12)})
        response.set_cookie(DEVICE_COOKIE, mark, max_age=DEVICE_MAX_AGE, path="/dashboard/login", httponly=True,
                            samesite="strict", secure=secure)
    return response


async def _device(request: Request, shop_id: str) -> str | None:
    """The id of this browser when it signed in to `shop_id` before (its device cookie), else None."""
    raw = request.cookies.get(DEVICE_COOKIE, "")
    if not raw or len(raw) > 300:
        return None
    try:
        data = (await _serializer(request, DEVICE_PURPOSE)).loads(raw, max_age=DEVICE_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("s") != shop_id or not isinstance(data.get("d"), str):
        return None
    return data["d"]


async def logout(request: Request) -> Response:
    session = await current_session(request)
    try:
        form = await _read_form(request)
    except (ValueError, UnicodeDecodeError):
        form = {}
    if session is not None and (not _same_origin(request)
                                or not hmac.compare_digest(form.get("csrf", ""), session.csrf)):
        return Response("Forbidden", status_code=403, headers=SECURITY_HEADERS, media_type="text/plain")
    if session is not None:
        await request.app.state.db.write(_revoke, session.csrf, time.time())
    response = RedirectResponse("/dashboard/login", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response


# --- the period ---------------------------------------------------------------------------------

@dataclass
class Period:
    start: dt.date
    end: dt.date
    preset: int | None
    fixed: bool  # the asked dates were unusable and were replaced

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


_DAY_FIRST = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")


def _parse_day(value: str | None) -> dt.date | None:
    """An ISO date (2026-09-05) or one written day first (5.9.2026, 05/09/2026), as Turkish readers do."""
    if not value:
        return None
    text = value.strip()
    try:
        m = _DAY_FIRST.match(text)
        if m:
            day = dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        else:
            day = dt.date.fromisoformat(text[:10])
    except ValueError:
        return None
    # Outside the report's dates (year 1, 9999: overflowing day arithmetic) counts as unusable.
    return day if FIRST_DATE <= day <= LAST_DATE else None


def period_of(params: Any, today: dt.date) -> Period:
    """The period asked for: ?days=N (a preset), or ?from=&to= (either may be left out)."""
    def default(fixed: bool) -> Period:
        return Period(today - dt.timedelta(days=DEFAULT_DAYS - 1), today, DEFAULT_DAYS, fixed)

    raw_days = (params.get("days") or "").strip()
    if raw_days:
        # isdigit() alone lets "²" and 5,000-digit numbers through to int(), which raises.
        if not (raw_days.isascii() and raw_days.isdigit() and len(raw_days) <= 4) or not 1 <= int(raw_days) <= MAX_DAYS:
            return default(True)
        n = int(raw_days)
        return Period(today - dt.timedelta(days=n - 1), today, n if n in PRESETS else None, False)
    raw_from, raw_to = (params.get("from") or "").strip(), (params.get("to") or "").strip()
    if not raw_from and not raw_to:
        return default(False)
    start, end = _parse_day(raw_from), _parse_day(raw_to)
    if (raw_from and start is None) or (raw_to and end is None):
        return default(True)
    end = end or today
    start = start or max(FIRST_DATE, end - dt.timedelta(days=DEFAULT_DAYS - 1))
    if start > end:
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        return default(True)
    preset = next((n for n in PRESETS if end == today and (end - start).days == n - 1), None)
    return Period(start, end, preset, False)


# --- the report ---------------------------------------------------------------------------------

async def load_report(request: Request, shop: Shop, period: Period) -> dict[str, Any]:
    from ..report import report_json

    await request.app.state.render_log.flush()
    return await report_json(request.app.state.db, shop, period.start, period.end)


# --- charts -------------------------------------------------------------------------------------

CHART_W, CHART_H = 560, 190
PAD_L, PAD_R, PAD_T, PAD_B = 48, 10, 12, 26


def _nice_step(top: float, ticks: int = 4, counts: bool = False) -> float:
    if top <= 0:
        return 1.0
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in ((1, 2, 5, 10) if counts else (1, 2, 2.5, 5, 10)):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _buckets(daily: list[dict[str, Any]], period: Period) -> tuple[list[dict[str, Any]], bool]:
    """One row per day of the period (missing days are zero); per week when the period is long."""
    keys = ("rendered", "impressions", "clicks", "attributed_orders", "attributed_revenue")
    by_day = {}
    for row in daily or []:
        day = _parse_day(str(row.get("date", "")))
        if day is not None:
            by_day[day] = row
    rows = []
    for i in range(period.days):
        day = period.start + dt.timedelta(days=i)
        src = by_day.get(day, {})
        rows.append({"start": day, "end": day, **{k: float(src.get(k) or 0) for k in keys}})
    if period.days <= 120:
        return rows, False
    weeks: list[dict[str, Any]] = []
    for row in rows:
        if not weeks or row["start"].weekday() == 0:
            weeks.append({"start": row["start"], "end": row["end"], **{k: 0.0 for k in keys}})
        week = weeks[-1]
        week["end"] = row["end"]
        for k in keys:
            week[k] += row[k]
    return weeks, True


def build_chart(kind: str, key: str, title: str, rows: list[dict[str, Any]], fmt: Fmt, t, weekly: bool,
                money: bool = False, attributed: bool = False, today: dt.date | None = None) -> dict[str, Any]:
    values = [row[key] for row in rows]
    n = len(values)
    top = max(values, default=0)
    step = _nice_step(top if top > 0 else (1000 if money else 4), counts=not money)
    if not money and step < 1:
        step = 1.0
    y_max = step * max(1, math.ceil(top / step - 1e-9)) if top > 0 else step * 4
    inner_w, inner_h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    slot = inner_w / max(n, 1)

    def y(v: float) -> float:
        return PAD_T + inner_h - (v / y_max) * inner_h

    ticks = []
    v = 0.0
    while v <= y_max + 1e-9:
        ticks.append({"y": round(y(v), 1), "label": fmt.compact(v, money=money)})
        v += step
    points = []
    for i, row in enumerate(rows):
        value = row[key]
        cx = PAD_L + slot * (i + 0.5)
        if weekly:
            label = t("week_of", d=fmt.short_date(row["start"]))
        else:
            label = fmt.date(row["start"], "EEE d MMM y")
        partial = today is not None and row["end"] >= today
        if partial:
            label += " · " + t("so_far")
        shown = fmt.money(value) if money else fmt.num(value)
        bar_w = max(1.0, min(slot * 0.7, 28))
        points.append({
            "x": round(cx, 1), "y": round(y(value), 1), "value": value, "text": shown, "label": label,
            "date": row["start"].isoformat(), "col_x": round(PAD_L + slot * i, 1), "col_w": round(slot, 2),
            "bar_x": round(cx - bar_w / 2, 1), "bar_w": round(bar_w, 1),
            "bar_h": round(max(0.0, PAD_T + inner_h - y(value)), 1), "partial": partial,
        })
    # The period's last day may be today, still under way: its segment is drawn dashed.
    solid = points[:-1] if len(points) > 1 and points[-1]["partial"] else points
    line = " ".join(("M" if i == 0 else "L") + f"{p['x']},{p['y']}" for i, p in enumerate(solid))
    partial_line = (f"M{solid[-1]['x']},{solid[-1]['y']} L{points[-1]['x']},{points[-1]['y']}"
                    if len(solid) < len(points) else "")
    full_line = " ".join(("M" if i == 0 else "L") + f"{p['x']},{p['y']}" for i, p in enumerate(points))
    base = PAD_T + inner_h
    area = f"{full_line} L{points[-1]['x']},{base} L{points[0]['x']},{base} Z" if points else ""
    # About six date labels, on round days (month starts for long periods).
    labels = []
    if n:
        every = max(1, math.ceil(n / 6))
        for i in range(0, n, every):
            p, row = points[i], rows[i]
            labels.append({"x": p["x"], "text": fmt.short_date(row["start"])})
    total = sum(values)
    return {
        "kind": kind, "key": key, "title": title, "w": CHART_W, "h": CHART_H, "ticks": ticks, "points": points,
        "line": line, "partial_line": partial_line, "area": area, "labels": labels, "base": base, "top": PAD_T,
        "left": PAD_L, "right": CHART_W - PAD_R,
        "total": fmt.money(total) if money else fmt.num(total), "attributed": attributed, "empty": total == 0,
        "dots": n <= 45,
    }


def ci_chart(diff: float, lo: float, hi: float) -> dict[str, Any]:
    """A horizontal interval around zero: where the true difference lies with 95 % confidence."""
    w, h, pad = 360, 44, 16
    span = max(abs(lo), abs(hi), abs(diff), 1e-9) * 1.15
    scale = (w - 2 * pad) / (2 * span)

    def x(v: float) -> float:
        return round(w / 2 + v * scale, 1)

    significant = lo > 0 or hi < 0
    tone = "up" if significant and diff > 0 else "down" if significant else "neutral"
    return {"w": w, "h": h, "zero": x(0), "lo": x(lo), "hi": x(hi), "dot": x(diff), "mid": h / 2 + 4, "tone": tone}


# --- the dashboard ------------------------------------------------------------------------------

def _f(d: dict[str, Any] | None, key: str) -> float:
    try:
        return float((d or {}).get(key) or 0)
    except (TypeError, ValueError):
        return 0.0


def _direction(uplift: dict[str, Any] | None) -> int:
    """+1 / -1 when the 95 % interval lies wholly above / below zero, else 0."""
    u = uplift or {}
    lo, hi = (list(u.get("ci95") or [0, 0]) + [0, 0])[:2]
    if u.get("significant") and (lo or 0) > 0:
        return 1
    if u.get("significant") and (hi or 0) < 0:
        return -1
    return 0


def _compares(holdout: dict[str, Any] | None) -> bool:
    """Whether the period has groups to compare: the holdout is on now, or it was during the period
    (a control group from before the setting was switched off still measures the block)."""
    return bool(holdout) and (_f(holdout, "share") > 0 or _f(holdout.get("control"), "visitors") > 0)


def _verdict(holdout: dict[str, Any] | None) -> tuple[str, str]:
    """(long text key, short text key) in plain words: the purchase rate first, then revenue per visitor."""
    if not _compares(holdout):
        return "holdout_off", "sig_short_off"
    conversion, revenue = _direction(holdout.get("conversion")), _direction(holdout.get("revenue_per_visitor"))
    if conversion > 0:
        return "sig_yes_up", "sig_short_yes"
    if conversion < 0:
        return "sig_yes_down", "sig_short_down"
    if revenue > 0:
        return "sig_rpv_up", "sig_short_yes"
    if revenue < 0:
        return "sig_rpv_down", "sig_short_down"
    if _f(holdout.get("conversion"), "absolute") > 0:
        return "sig_not_yet_up", "sig_short_not_yet"
    return "sig_not_yet", "sig_short_not_yet"


def _demo_link(request: Request, shop: Shop) -> tuple[str | None, str]:
    extra = getattr(request.app.state.settings, "extra", None) or {}
    url = extra.get("demo_shop_url")
    if url:
        return url.rstrip("/") + "/sepet", "preview"
    if shop.id == "demo" and shop.origins:
        return shop.origins[0] + "/sepet", "preview"
    if shop.origins:
        return shop.origins[0] + "/", "open_shop"
    return None, "open_shop"


async def dashboard(request: Request) -> Response:
    session = await current_session(request)
    if session is None:
        target = "/dashboard/login" + ("?expired=1" if SESSION_COOKIE in request.cookies else "")
        response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
        if request.query_params.get("lang") in LOCALES:
            response.set_cookie(LANG_COOKIE, request.query_params["lang"], max_age=365 * 86400, path="/dashboard",
                                samesite="lax", httponly=True)
        return response
    shop = session.shop
    locale, remember = _locale(request, shop)
    t = _t(locale)
    today = dt.datetime.now(dt.UTC).date()
    period = period_of(request.query_params, today)
    try:
        report = await load_report(request, shop, period)
    except Exception:  # the page still renders, with a clear message
        log.exception("dashboard report failed for %s", shop.id)
        report = None
    fmt = Fmt(locale, (report or {}).get("currency") or shop.currency)
    window = int((report or {}).get("attribution_days") or shop.settings.get("attribution_days", 7))
    context: dict[str, Any] = {
        "shop": shop, "csrf": session.csrf, "period": period, "fmt": fmt, "window": window, "report": report,
        "today": today, "presets": [{"n": n, "active": period.preset == n} for n in PRESETS],
        "generated": fmt.date(today, "d MMMM y") + " " + dt.datetime.now(dt.UTC).strftime("%H:%M"),
    }
    context["preview_url"], context["preview_label"] = _demo_link(request, shop)
    if report is not None:
        block = report.get("block") or {}
        totals = report.get("totals") or {}
        context["block"] = block
        context["totals"] = totals
        context["restores"] = report.get("restores") or {}
        context["per_visitor"] = (_f(block, "impressions") / _f(block, "visitors_reached")
                                  if _f(block, "visitors_reached") else 0)
        rows, weekly = _buckets(report.get("daily") or [], period)
        context["weekly"] = weekly
        context["charts"] = [
            build_chart("area", "impressions", t("chart_impressions"), rows, fmt, t, weekly, today=today),
            build_chart("bars", "clicks", t("chart_clicks"), rows, fmt, t, weekly, today=today),
            build_chart("bars", "attributed_orders", t("chart_orders"), rows, fmt, t, weekly, attributed=True,
                        today=today),
            build_chart("area", "attributed_revenue", t("chart_revenue"), rows, fmt, t, weekly, money=True,
                        attributed=True, today=today),
        ]
        sections = report.get("sections") or {}
        top_revenue = max([_f(s, "attributed_revenue") for s in sections.values()] + [0.0])
        context["sections"] = [
            {"key": key, "title": t(f"sec_{key}"), "d": sections[key],
             "bar": (_f(sections[key], "attributed_revenue") / top_revenue) if top_revenue else 0}
            for key in ("cart", "viewed", "favorites", "similar") if key in sections
        ]
        holdout = report.get("holdout")
        context["holdout"] = holdout
        context["verdict"], context["verdict_short"] = _verdict(holdout)
        context["compares"] = _compares(holdout)
        changed = (holdout or {}).get("changed_at")
        if changed and changed[:10] >= period.start.isoformat():
            context["holdout_changed"] = fmt.date(dt.date.fromisoformat(changed[:10]), "d MMMM y")
        if context["compares"]:
            uplifts = []
            for key, label, is_money in (("conversion", "uplift_conv", False),
                                         ("revenue_per_visitor", "uplift_rpv", True)):
                u = holdout.get(key) or {}
                lo, hi = (list(u.get("ci95") or [0, 0]) + [0, 0])[:2]
                diff = _f(u, "absolute")
                if is_money:
                    shown, lo_s, hi_s = fmt.money_signed(diff), fmt.money_signed(lo), fmt.money_signed(hi)
                else:
                    shown = t("points", v=fmt.points(diff))
                    lo_s, hi_s = fmt.points(lo or 0), fmt.points(hi or 0)
                rel = u.get("relative")
                uplifts.append({"label": t(label), "shown": shown, "ci": t("ci", lo=lo_s, hi=hi_s),
                                "relative": t("relative", v=fmt.pct(rel, sign=True)) if rel is not None else "",
                                "chart": ci_chart(diff, float(lo or 0), float(hi or 0)),
                                "significant": bool(u.get("significant"))})
            context["uplifts"] = uplifts
            context["holdout_visitors"] = _f(holdout.get("control"), "visitors") + _f(holdout.get("treatment"),
                                                                                      "visitors")
    return _page(request, "dashboard.html", locale, remember=remember, **context)


async def export_csv(request: Request) -> Response:
    """The period's report as CSV (the same file as the report API's), for the signed-in shop."""
    session = await current_session(request)
    if session is None:
        return RedirectResponse("/dashboard/login", status_code=303, headers=SECURITY_HEADERS)
    from ..report import daily_csv, report_csv

    period = period_of(request.query_params, dt.datetime.now(dt.UTC).date())
    report = await load_report(request, session.shop, period)
    daily = request.query_params.get("table") == "daily"
    name = f"cartback-{report['shop']}-{report['from']}-{report['to']}{'-daily' if daily else ''}.csv"
    return Response(daily_csv(report) if daily else report_csv(report), media_type="text/csv; charset=utf-8",
                    headers={**SECURITY_HEADERS, "content-disposition": f'attachment; filename="{name}"'})


routes = [
    Route("/dashboard", dashboard, methods=["GET", "HEAD"]),
    Route("/dashboard/export.csv", export_csv, methods=["GET"]),
    Route("/dashboard/", lambda r: RedirectResponse("/dashboard", status_code=308), methods=["GET", "HEAD"]),
    Route("/dashboard/login", login_page, methods=["GET", "HEAD"]),
    Route("/dashboard/login", login, methods=["POST"]),
    Route("/dashboard/logout", logout, methods=["POST"]),
]
