"""The snippet's tracking half, in a real Chromium against the real server: the queue stub, every
verb's body on the wire, JSON-LD views, the visitor token and its cookie fallback, batching and
the beacon on pagehide."""

from __future__ import annotations

import json
import time


def visitor_of(token: str) -> str:
    # `<vid>.<timestamp>.<signature>`: the server re-signs on every answer, the visitor stays.
    return token.split(".")[0]


def test_queued_calls_are_replayed_in_order_with_one_token(storefront, traffic, page_errors):
    shop = storefront()
    shop.open("queue.html")
    # Automation is no reason to drop events (the server decides about bots).
    assert shop.page.evaluate("navigator.webdriver") is True
    origin = shop.site.url
    events = traffic.wait_events(8)
    assert events == [
        {"type": "view", "product": {"id": "q1", "name": "Çam Balı", "price": 249.9, "currency": "TRY",
                                     "url": f"{origin}/product.html?id=q1", "image": f"{origin}/img/product.svg",
                                     "category": "Bal", "in_stock": True}},
        {"type": "add", "product": "q1", "qty": 1},
        {"type": "add", "product": {"id": "q2", "name": "Kestane Balı"}, "qty": 2},
        {"type": "remove", "id": "q2"},
        {"type": "favorite", "product": "q1"},
        {"type": "unfavorite", "id": "q1"},
        {"type": "cart", "items": [{"id": "q1", "qty": 1}]},
        {"type": "purchase", "order_id": "o-1", "total": 249.9, "currency": "TRY",
         "items": [{"id": "q1", "price": 249.9, "qty": 1}]},
    ]
    # Calls after load go through the real function, after the replayed ones.
    shop.page.evaluate("cartback('view', 'q3')")
    assert traffic.wait_events(9)[8] == {"type": "view", "product": "q3"}
    traffic.settle()

    posts = traffic.posts()
    # Batched: a burst of calls is one request, not one each.
    assert len(posts) == 2
    for post in posts:
        assert post.headers["content-type"] == "text/plain;charset=UTF-8"  # a simple request: no preflight
        assert traffic.body(post)["shop"] == shop.shop.id
        response = post.response()
        assert response.status == 200 and response.json()["accepted"] == len(traffic.body(post)["events"])
    assert not [r for r in traffic.requests if r.method == "OPTIONS"]
    # A first-time visitor: the first POST has no token, the next carries the one the server gave.
    assert "vid" not in traffic.body(posts[0])
    token = shop.token()
    first_answer = posts[0].response().json()["vid"]
    assert visitor_of(traffic.body(posts[1])["vid"]) == visitor_of(token) == visitor_of(first_answer)
    assert not page_errors


def test_each_verb_sends_its_wire_shape(storefront, traffic, page_errors):
    shop = storefront()
    shop.open("blank.html")
    product = shop.product("v1")
    shop.page.evaluate("""p => {
        cartback('view', p);
        cartback('view', 'v2');
        cartback('add', p);                       // qty defaults to 1
        cartback('add', 'v2', 3);
        cartback('add', {id: 17, name: 'Numeric id'}, '2');
        cartback('remove', 'v2');
        cartback('remove', {id: 'v1'});           // a product object where an id is expected
        cartback('favorite', p);
        cartback('favorite', 'v2');
        cartback('unfavorite', 'v2');
        cartback('cart', [{id: 'v1', qty: 2}, 'v2']);
        cartback('cart', []);
        cartback('purchase', {order_id: 'A-1', total: 499.8, currency: 'TRY',
                              items: [{id: 'v1', price: 249.9, qty: 2}]});
        // Not valid: dropped on the client, without throwing and without spoiling the batch.
        cartback('view');
        cartback('add', null);
        cartback('remove', '');
        cartback('view', {name: 'no id'});
        cartback('view', 'x'.repeat(65));
        cartback('cart', [{id: 'v1'}, {qty: 2}]);  // not "the cart is empty" either
        cartback('no-such-verb', 1);
        cartback();
    }""", product)
    events = traffic.wait_events(13)
    traffic.settle()
    assert events == [
        {"type": "view", "product": product},
        {"type": "view", "product": "v2"},
        {"type": "add", "product": product, "qty": 1},
        {"type": "add", "product": "v2", "qty": 3},
        {"type": "add", "product": {"id": "17", "name": "Numeric id"}, "qty": 2},
        {"type": "remove", "id": "v2"},
        {"type": "remove", "id": "v1"},
        {"type": "favorite", "product": product},
        {"type": "favorite", "product": "v2"},
        {"type": "unfavorite", "id": "v2"},
        {"type": "cart", "items": [{"id": "v1", "qty": 2}, {"id": "v2", "qty": 1}]},
        {"type": "cart", "items": []},
        {"type": "purchase", "order_id": "A-1", "total": 499.8, "currency": "TRY",
         "items": [{"id": "v1", "price": 249.9, "qty": 2}]},
    ]
    post = traffic.posts()[0]
    assert post.response().status == 200
    assert post.response().json()["accepted"] == len(events)
    assert not page_errors


LD_PLAIN = {
    "@context": "https://schema.org", "@type": "Product", "sku": "ld-1", "name": "Anzer Balı",
    "image": ["/img/product.svg", "/img/other.svg"], "category": "Bal",
    "offers": {"@type": "Offer", "price": "1249.90", "priceCurrency": "TRY",
               "availability": "https://schema.org/InStock"},
}
LD_GRAPH = {
    "@context": "https://schema.org",
    "@graph": [
        {"@type": "WebPage", "@id": "#page", "name": "Shop page"},
        {"@type": ["Product", "Thing"], "productID": "ld-2", "name": "Kestane Balı",
         "url": "/product.html?id=ld-2", "image": {"@type": "ImageObject", "url": "/img/product.svg"},
         "offers": [{"@type": "Offer", "price": 349, "priceCurrency": "TRY",
                     "availability": "http://schema.org/OutOfStock"}]},
    ],
}
LD_ARRAY = [
    {"@context": "https://schema.org", "@type": "BreadcrumbList", "itemListElement": []},
    {"@context": "https://schema.org", "@type": "Product", "@id": "ld-3", "name": "Çiçek Balı"},
]


def test_json_ld_product_counts_as_a_view_without_a_call(storefront, traffic, page_errors):
    shop = storefront()
    page_url = shop.url("product.html", name="Anzer", ld=json.dumps(LD_PLAIN), ld2=json.dumps(LD_GRAPH),
                        ld3=json.dumps(LD_ARRAY))
    shop.page.goto(page_url)
    views = traffic.wait_events(3, "view")
    origin = shop.site.url
    assert views == [
        {"type": "view", "product": {"id": "ld-1", "name": "Anzer Balı", "url": page_url,
                                     "image": f"{origin}/img/product.svg", "category": "Bal", "price": 1249.9,
                                     "currency": "TRY", "in_stock": True}},
        {"type": "view", "product": {"id": "ld-2", "name": "Kestane Balı", "url": f"{origin}/product.html?id=ld-2",
                                     "image": f"{origin}/img/product.svg", "price": 349, "currency": "TRY",
                                     "in_stock": False}},
        {"type": "view", "product": {"id": "ld-3", "name": "Çiçek Balı", "url": page_url}},
    ]
    traffic.settle()
    assert traffic.posts()[0].response().json()["accepted"] == 3
    assert not page_errors


def test_broken_json_ld_is_ignored(storefront, traffic, page_errors):
    shop = storefront()
    shop.open("product.html", ld="{not json", ld2=json.dumps({"@type": "Product", "name": "no id"}),
              ld3=json.dumps({"@type": "Product", "sku": "ok-1"}))
    assert traffic.wait_events(1, "view") == [{"type": "view", "product": {"id": "ok-1", "url": shop.page.url}}]
    assert not page_errors


def test_token_is_stored_first_party_and_reused_across_pages(storefront, traffic, page):
    shop = storefront()
    token = shop.browse(shop.product("t1"))
    assert page.context.cookies() == []  # localStorage works, so no cookie
    shop.open("blank.html")
    page.evaluate("cartback('add', 't1')")
    traffic.wait(lambda: len(traffic.posts()) == 2, what="second POST")
    second = traffic.body(traffic.posts()[1])
    assert second["vid"] == token
    traffic.settle()
    assert visitor_of(shop.token()) == visitor_of(token)


BLOCK_LOCAL_STORAGE = """
Object.defineProperty(window, 'localStorage', {
  get() { throw new DOMException('The operation is insecure.', 'SecurityError'); }
});
"""


def test_cookie_fallback_when_local_storage_is_blocked(storefront, traffic, page, page_errors):
    page.context.add_init_script(BLOCK_LOCAL_STORAGE)
    shop = storefront()
    shop.open("blank.html")
    page.evaluate("cartback('view', 'c1')")
    cookie = traffic.wait(lambda: [c for c in page.context.cookies() if c["name"] == f"cartback_{shop.shop.id}"],
                          what="the visitor cookie")[0]
    assert cookie["path"] == "/" and cookie["sameSite"] == "Lax" and not cookie["httpOnly"]
    assert 364 * 86400 < cookie["expires"] - time.time() <= 365 * 86400 + 60
    token = cookie["value"]
    assert visitor_of(token) == visitor_of(traffic.posts()[0].response().json()["vid"])

    shop.open("blank.html")
    page.evaluate("cartback('view', 'c2')")
    traffic.wait(lambda: len(traffic.posts()) == 2, what="second POST")
    assert traffic.body(traffic.posts()[1])["vid"] == token
    assert not page_errors


def test_pagehide_sends_what_is_queued_as_a_beacon(storefront, traffic, page, page_errors):
    shop = storefront()
    shop.browse(shop.product("b1"))
    before = len(traffic.posts())
    # Queued (the batch timer has not fired) when the page goes away.
    page.evaluate("cartback('add', 'b1'); dispatchEvent(new PageTransitionEvent('pagehide'))")
    traffic.wait(lambda: len(traffic.posts()) > before, what="the beacon")
    beacon = traffic.posts()[before]
    assert beacon.resource_type == "ping"  # sendBeacon, not fetch
    assert beacon.headers["content-type"].startswith("text/plain")
    assert traffic.body(beacon)["events"] == [{"type": "add", "product": "b1", "qty": 1}]
    assert traffic.body(beacon)["vid"] == shop.token()
    # Nothing is sent twice once the batch timer would have fired.
    page.wait_for_timeout(200)
    assert len(traffic.posts()) == before + 1
    assert not page_errors


def test_hidden_tab_flushes_with_a_beacon(storefront, traffic, page):
    shop = storefront()
    shop.open("blank.html")
    page.evaluate("""() => {
        Object.defineProperty(document, 'hidden', {value: true, configurable: true});
        cartback('view', 'h1');
        document.dispatchEvent(new Event('visibilitychange'));
    }""")
    beacon = traffic.wait(traffic.posts, what="the beacon")[0]
    assert beacon.resource_type == "ping"
    assert traffic.body(beacon)["events"] == [{"type": "view", "product": "h1"}]


def test_a_second_copy_of_the_tag_changes_nothing(storefront, traffic, page, page_errors):
    shop = storefront()
    shop.open("queue.html")
    traffic.wait_events(8)
    # Pasting the tag twice must not replay the queue again or double the calls.
    page.evaluate("""src => new Promise(done => { const s = document.createElement('script');
        s.src = src; s.dataset.shop = document.querySelector('script[data-shop]').dataset.shop;
        s.onload = done; document.head.appendChild(s); })""", f"{shop.widget}/snippet.js?again")
    page.evaluate("cartback('view', 'once')")
    traffic.wait_events(9)
    traffic.settle()
    page.wait_for_timeout(150)
    assert [e for e in traffic.events() if e.get("product") == "once"] == [{"type": "view", "product": "once"}]
    assert len(traffic.events()) == 9
    assert len([r for r in traffic.requests if "/v1/config" in r.url]) == 1
    assert not page_errors
