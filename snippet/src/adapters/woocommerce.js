/* WooCommerce, classic themes and the Cart/Checkout blocks.
 *
 * Classic themes: plugins/woocommerce/client/legacy/js/frontend/add-to-cart.js triggers jQuery
 * `added_to_cart` / `removed_from_cart` on document.body with (fragments, cart_hash, $button); the
 * button carries data-product_id, data-product_sku and data-quantity. cart.js triggers
 * `wc_cart_emptied` when the cart page's last line goes.
 * Blocks talk to the Store API (/wp-json/wc/store/v1/cart, …/cart/add-item, …/batch), whose
 * responses are the whole cart: items[].id (product or variation id), sku, quantity,
 * prices.price in minor units with prices.currency_minor_unit. Every Store API response the page
 * gets is read; the adapter GETs the cart itself at load on pages with blocks or the cart, and
 * after each classic event, so both kinds of theme end in the same cart read, whose differences
 * shared/lib.js's tracker reports. Those responses also carry the `Nonce` and `Cart-Token` headers a
 * Store API write needs.
 *
 * id_field: sku takes the SKU, otherwise the item's id (for a variation the variation's id: the
 * Store API cart names no parent). That id is also the handle to put the line back.
 *
 * Restore: POST …/cart/add-item {id, quantity} with the Nonce (and Cart-Token when known), one
 * line at a time; where there is no Store API (404: WooCommerce from before the blocks were in
 * core), the classic `?wc-ajax=add_to_cart` with product_id and quantity. */

import { W, D, start, watchFetch, tracker, oneByOne, safe, ready, post } from './shared/lib.js';

start((cb, cfg) => {
  var sku = cfg.id_field == 'sku', track = tracker(cb),
    nonce, token,
    // /wp-json/ unless a Store API call of the page showed another root (…/?rest_route=/ on
    // sites without pretty permalinks).
    root = '/wp-json/',
    api = p => root + 'wc/store/v1/cart' + p,
    // The watcher below has taken the response's headers by the time this resolves.
    read = () => fetch(api('')).then(r => r.ok, () => 0),
    line = (i, p) => (p = i.prices, {
      id: sku ? i.sku : i.id, variant: i.id, qty: i.quantity, price: p.price / 10 ** p.currency_minor_unit,
      currency: p.currency_code, name: i.name, url: i.permalink, image: (i.images[0] || {}).src
    });

  watchFetch(/wc\/store\/(v1\/)?(cart|batch)/, (r, u) => (
    root = u.split('wc/store')[0],
    nonce = r.headers.get('Nonce') || nonce,
    token = r.headers.get('Cart-Token') || token,
    // A batch answers with one response per request: rather than pick the cart out, ask for it.
    r.json().then(j => j.items ? track(j.items.map(line)) : /batch/.test(u) && read())));
  ready(safe(() => {
    // Each classic event leads to a read, whose differences tell what changed. Without a baseline
    // (no earlier read on this page) the read can only set one: then the button tells what was
    // added (its line's variant comes with the cart; a removal shows in the cart itself).
    var $ = W.jQuery;
    $ && $(D.body).on('added_to_cart removed_from_cart wc_cart_emptied', safe((e, f, h, $b) => {
      var had = track.b, b = $b && $b[0].dataset || {};
      read().then(ok => ok && had || e.type[0] == 'a' && cb('add', sku ? b.product_sku : b.product_id, +b.quantity || 1));
    }));
    D.querySelector('.woocommerce-cart,[class*=wp-block-woocommerce]') && read();
  }));
  cb('adapter', {
    restore: async items => {
      nonce || await read();
      return oneByOne(items, async (i, h, r) => {
        h = { 'Content-Type': 'application/json', Nonce: nonce };
        token && (h['Cart-Token'] = token);
        r = await post(api('/add-item'), JSON.stringify({ id: +(i.variant || i.id), quantity: i.qty }), h);
        return r.ok || r.status == 404 &&
          !(await (await post('/?wc-ajax=add_to_cart', new URLSearchParams({ product_id: i.variant || i.id, quantity: i.qty }))).json()).error;
      });
    }
  });
});
