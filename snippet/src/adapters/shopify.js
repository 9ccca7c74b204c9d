/* Shopify (Online Store 2.0 themes and older ones alike).
 *
 * Themes change the cart through the AJAX Cart API: Dawn's assets/product-form.js posts FormData
 * to `routes.cart_add_url` (/cart/add, or /en/cart/add on a localized storefront; the routes are
 * set in layout/theme.liquid) and assets/cart.js posts JSON to `cart_change_url`; other themes
 * call the .js forms of the same routes, by fetch or by jQuery's XHR. Rather than parse each
 * request, every successful one triggers a read of GET /cart.js, the cart as Shopify holds it,
 * and shared/lib.js's tracker turns the differences since the previous read into add and remove events.
 * The same read at load reports the cart as it is (an empty one included).
 *
 * /cart.js items: variant_id, product_id, sku, quantity, price in cents, product_title, url
 * (relative), image (absolute). id_field picks product_id (default), sku or variant_id; the
 * variant id is always the line's handle for restore.
 *
 * Restore: POST /cart/add.js with {items: [{id: VARIANT, quantity}]}. Shopify refuses the whole
 * request (422) when any line cannot be added (sold out, not enough stock), so then each item is
 * tried alone to learn which ones failed. */

import { W, noop, start, watchFetch, watchXHR, tracker, oneByOne, abs, post } from './shared/lib.js';
import { dataLayer, wishlist } from './shared/ga4.js';

start((cb, cfg) => {
  var S = W.Shopify, root = S && S.routes && S.routes.root || '/',
    f = cfg.id_field, track = tracker(cb),
    // Not our own GET of /cart.js: only the routes that change the cart.
    re = /\/cart\/(add|change|update|clear)\b/,
    read = () => fetch(root + 'cart.js').then(r => r.json()).then(c => track(c.items.map(i => ({
      id: i[{ sku: 'sku', variant: 'variant_id' }[f] || 'product_id'],
      variant: i.variant_id, qty: i.quantity, price: i.price / 100, currency: c.currency,
      name: i.product_title, url: abs(i.url), image: abs(i.image)
    })))).catch(() => 0),
    add = items => post(root + 'cart/add.js', JSON.stringify({ items: items.map(i => ({ id: +(i.variant || i.id), quantity: i.qty })) }), { 'Content-Type': 'application/json' });

  watchFetch(re, read);
  watchXHR(re, read);
  read();
  // Favourites from wishlist apps that tag for GA4. Within the size budget: views come from the
  // themes' JSON-LD, and theme scripts never see Shopify's checkout (no purchase).
  dataLayer({ add_to_wishlist: wishlist(cb) });
  cb('adapter', {
    restore: items => add(items).then(r => r.ok && { added: items.map(i => i.id), failed: [] }).catch(noop)
      .then(done => done || oneByOne(items, i => add([i]).then(r => r.ok)))
  });
});
