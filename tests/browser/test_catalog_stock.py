"""The merchant's feed is authoritative: a product it marks out of stock leaves the block on the
next render, and a price it changes is the price the block shows."""

from __future__ import annotations

import httpx

BLOCK = ".cartback[data-cartback-block]"


def feed(shop, rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["id,title,price,link,image_link,availability"]
    for pid, name, price, availability in rows:
        lines.append(f"{pid},{name},{price} TRY,{shop.site.url}/product.html?id={pid},"
                     f"{shop.site.url}/img/product.svg,{availability}")
    return "\n".join(lines) + "\n"


def put_feed(shop, text: str) -> dict:
    r = httpx.put(f"{shop.widget}/v1/shops/{shop.shop.id}/catalog", content=text.encode(),
                  headers={"authorization": f"Bearer {shop.shop.api_key}", "content-type": "text/csv"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def shown(page) -> dict[str, str]:
    page.wait_for_selector(BLOCK, state="attached")
    ids = page.locator(f"{BLOCK} [data-cartback-product]").evaluate_all("a => a.map(e => e.dataset.cartbackProduct)")
    return dict(zip(ids, page.locator(f"{BLOCK} .cartback__price").all_inner_texts(), strict=True))


def test_feed_marks_a_product_out_of_stock_and_the_block_drops_it(storefront, page, page_errors):
    shop = storefront()
    first = put_feed(shop, feed(shop, [("kestane", "Kestane Balı", "319.90", "in_stock"),
                                       ("cam", "Çam Balı", "249.90", "in_stock")]))
    assert first["created"] == 2 and first["rejected"] == 0
    shop.browse({"id": "kestane"}, {"id": "cam"})  # the browser knows only the ids; the catalog has the rest

    shop.open("slot.html")
    assert shown(page) == {"cam": "₺249,90", "kestane": "₺319,90"}

    second = put_feed(shop, feed(shop, [("kestane", "Kestane Balı", "299.90", "in_stock"),
                                        ("cam", "Çam Balı", "249.90", "out_of_stock")]))
    assert second["updated"] == 2
    shop.open("slot.html")  # the next render: out of stock is gone, the new price is there
    assert shown(page) == {"kestane": "₺299,90"}
    assert not page_errors
