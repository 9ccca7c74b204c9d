/* Magento 2 (Luma, Blank and the themes built on them).
 *
 * The storefront keeps the visitor's private data in "customer data" sections
 * (app/code/Magento/Customer/view/frontend/web/js/customer-data.js): loaded by GET
 * /customer/section/load (jQuery, so XHR; Hyvä-style themes use fetch) and kept in
 * localStorage['mage-cache-storage']. The `cart` section (Checkout/CustomerData/Cart.php,
 * DefaultItem.php) holds items[].product_id, product_sku, qty, product_price_value, product_name,
 * product_url, product_image.src; the `wishlist` section (Wishlist/CustomerData/Wishlist.php, 2.4)
 * the newest wishlist items with product_id and product_sku. Both are read at load from storage
 * and again from every section load response; shared/lib.js's tracker turns cart changes into events.
 * The wishlist section lists only the newest three, so a product leaving it is no unfavourite.
 *
 * id_field: sku takes product_sku, otherwise product_id, which is also the handle to put the
 * line back (a configurable product's options are not restored: the line comes back as its parent).
 *
 * Restore: POST /checkout/cart/add (product, qty, form_key from the `form_key` cookie, isAjax so
 * Magento answers JSON instead of redirecting to a rendered cart page), one product a request. It
 * answers 200 whether or not the product went in, so the cart section is loaded afterwards and
 * what it holds is what was added. The POSTs change the private_content_version cookie, which
 * makes customer-data.js reload every section on the next page. */

import { W, start, watchFetch, watchXHR, tracker, post, cookie } from './shared/lib.js';

start((cb, cfg) => {
  var sku = cfg.id_field == 'sku', track = tracker(cb), base = W.BASE_URL || '/',
    id = i => sku ? i.product_sku : i.product_id,
    seen = (s, c) => {
      (c = s.cart) && c.items && track(c.items.map(i => ({
        id: id(i), variant: i.product_id, qty: i.qty, name: i.product_name, url: i.product_url,
        // An object ({incl_tax, excl_tax}) where the shop shows both.
        price: (c = i.product_price_value) && c.incl_tax || c, image: i.product_image && i.product_image.src
      })));
      ((s.wishlist || {}).items || []).map(i => cb('favorite', { id: id(i), name: i.product_name, url: i.product_url, image: i.image && i.image.src }));
    },
    re = /customer\/section\/load/;

  try { seen(JSON.parse(localStorage['mage-cache-storage'])) } catch (e) {}
  watchFetch(re, r => r.json().then(seen));
  watchXHR(re, x => seen(JSON.parse(x.responseText)));
  cb('adapter', {
    restore: async (items, have, done) => {
      done = { added: [], failed: [] };
      try {
        for (var i of items) await post(base + 'checkout/cart/add', new URLSearchParams({
          product: i.variant || i.id, qty: i.qty, form_key: cookie('form_key'), isAjax: 1
        })).catch(() => 0);
        have = (await (await fetch(base + 'customer/section/load/?sections=cart&force_new_section_timestamp=true')).json())
          .cart.items.map(i => '' + i.product_id);
      } catch (e) {}
      items.map(i => done[have && have.includes('' + (i.variant || i.id)) ? 'added' : 'failed'].push(i.id));
      return done;
    }
  });
});
