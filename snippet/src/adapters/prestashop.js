/* PrestaShop 1.7 / 8 (classic theme and the themes built like it).
 *
 * Every page defines the `prestashop` object, whose `cart` is the cart as the CartPresenter gives
 * it (products[].id_product, id_product_attribute, quantity, price_amount, name, url, reference,
 * cover), and the theme's core.js makes it an event emitter. Each cart change is announced as
 * `prestashop.emit('updateCart', {reason, resp})`: themes/_core/js/cart.js and the classic theme's
 * themes/classic/_dev/js/cart.js put the new cart in reason.cart / resp.cart after an add (the JSON
 * of controllers/front/CartController.php, displayAjaxUpdate). The cart at load and each such cart
 * go through shared/lib.js's tracker; an event without a cart (a line deleted on the cart page: reason is
 * the link's dataset) still names the product.
 *
 * id_field: product takes id_product, sku the reference, variant the "id_product:id_product_attribute"
 * pair, which is always the handle to put the line back.
 *
 * Restore: POST prestashop.urls.pages.cart with add=1&action=update&ajax=1, id_product,
 * id_product_attribute, qty and token=prestashop.static_token, one product a request; the JSON
 * answer says success, or hasError (out of stock, no longer sold). */

import { W, start, tracker, oneByOne, safe, ready, post } from './shared/lib.js';
import { dataLayer, wishlist, purchase } from './shared/ga4.js';

start((cb, cfg) => {
  var P = W.prestashop, f = cfg.id_field, track = tracker(cb),
    id = (p, v, r) => f == 'sku' ? r : f == 'variant' ? v : p,
    read = c => c && c.products && track(c.products.map((p, v) => ({
      id: id(p.id_product, v = p.id_product + ':' + p.id_product_attribute, p.reference), variant: v,
      qty: +p.quantity, price: p.price_amount, currency: P.currency.iso_code,
      name: p.name, url: p.url, image: p.cover && p.cover.medium.url
    })));

  read(P.cart);
  ready(safe(() => P.on('updateCart', safe((e, r, v, c) => {
    r = e && e.reason || {};
    v = r.idProduct + ':' + (r.idProductAttribute || 0);
    (c = r.cart || e.resp && e.resp.cart) ? read(c) : r.linkAction == 'delete-from-cart' && cb('remove', id(r.idProduct, v));
  }))));
  // The order confirmation's GA4 purchase (ps_googleanalytics and GTM setups); favourites from
  // wishlist modules that tag add_to_wishlist. Views come from the theme's JSON-LD.
  dataLayer({ add_to_wishlist: wishlist(cb), purchase: purchase(cb) });
  cb('adapter', {
    restore: items => oneByOne(items, async (i, v) => (v = ('' + (i.variant || i.id)).split(':'),
      (await (await post(P.urls.pages.cart, new URLSearchParams({
        add: 1, action: 'update', ajax: 1, id_product: v[0], id_product_attribute: v[1] || 0, qty: i.qty, token: P.static_token
      }))).json()).success))
  });
});
