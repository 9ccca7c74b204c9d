"""The demo honey shop that `cartback demo` serves beside the widget server, on another origin.

The shop ("Kovan & Çiçek", made up) is what marketers use to preview the block and what QA and the
browser tests drive. It behaves like a Shopify shop on the Dawn theme: product pages with schema.org
JSON-LD and GA4 dataLayer pushes, a cart kept on the shop's server behind Shopify's AJAX cart API
that expires after 24 hours on the shop's clock, a GA4-tagged wishlist, a checkout, and a demo
toolbar that moves the shop's clock 24 hours ahead. Its pages carry only Cartback's install tag:
the snippet and its Shopify adapter must find out everything themselves, as on a real shop.

Modules: `catalog` (the products file and its import), `seed` (the shop `demo`, sample shoppers),
`shop` (the catalog as pages see it), `cart` (the server-side cart and Shopify's cart JSON),
`cart_api` (Shopify's AJAX cart API), `toolbar` (the demo toolbar), `middleware` (language, one
origin), `site` (the Starlette app and its pages), `servers` (both servers in one loop). The command's
options and output are `cartback.cli.demo`.
"""

from ..i18n import LOCALES
from .cart import Cart, CartError, CartStore
from .catalog import FEED_FIELDS, SITE_DIR, expand_urls, import_catalog, load_catalog
from .middleware import DemoMiddleware
from .seed import (
    DEMO_SETTINGS,
    PLATFORM_SETTINGS,
    SAMPLE_PREFIX,
    SHOP_ID,
    Seeded,
    ensure_shop,
    prepare,
    seed_sample_shoppers,
    shop_origins,
)
from .shop import DemoShop
from .site import create_demo_app

__all__ = [
    "DEMO_SETTINGS", "FEED_FIELDS", "LOCALES", "PLATFORM_SETTINGS", "SAMPLE_PREFIX", "SHOP_ID", "SITE_DIR",
    "Cart", "CartError", "CartStore", "DemoMiddleware", "DemoShop", "Seeded",
    "create_demo_app", "ensure_shop", "expand_urls", "import_catalog", "load_catalog", "prepare",
    "seed_sample_shoppers", "shop_origins",
]
