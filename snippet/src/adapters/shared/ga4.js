/* The GA4 e-commerce events a shop already pushes to `dataLayer`, read as Cartback events.
 *
 * Both shapes GA4 tagging produces: GTM's `dataLayer.push({event, ecommerce: {...}})` and gtag.js's
 * `gtag('event', name, params)`, which pushes its `arguments` object. Entries pushed before this
 * script loaded are already in the array: they are read first, then `push` is wrapped, and a
 * cursor into the array makes sure no entry is read twice. GTM and gtag.js, loading later, wrap
 * `push` in turn and call the previous one, so this wrapper stays in the chain.
 *
 * Split in parts so that a platform adapter bundles only the events its platform has no better
 * source for, within its size budget; add_to_cart / remove_from_cart stay with the platform's own
 * cart mechanism there, which would otherwise count them twice. item_id is taken as it is: which
 * id a shop's tagging puts there is the shop's choice (its id_field). */

import { W, D } from './lib.js';

// on: {event name: (items, currency, ecommerce) => ...}
export var dataLayer = on => {
  var dl = W.dataLayer = W.dataLayer || [], n = 0, push = dl.push,
    scan = (e, o) => {
      while (n < dl.length) try {
        e = dl[n++];
        e = e[0] == 'event' ? { event: e[1], ecommerce: e[2] } : e;
        o = e.ecommerce || {};
        on[e.event] && on[e.event](o.items || [], o.currency, o);
      } catch (x) {}
    };
  dl.push = function () {
    var r = push.apply(this, arguments);
    scan();
    return r;
  };
  scan();
};

export var item = (i, c, u) => ({ id: i.item_id, name: i.item_name, price: i.price, currency: c, category: i.item_category, url: u });

// The core reads a JSON-LD Product itself: a second view from GA4 could name it by another id.
export var viewItem = cb => (items, c) => /"Product"/.test([].map.call(D.querySelectorAll('script[type="application/ld+json"]'), s => s.text)) ||
  cb('view', item(items[0], c, location.href));

export var wishlist = cb => (items, c) => items.map(i => cb('favorite', item(i, c)));

export var purchase = cb => (items, c, o) => cb('purchase', {
  order_id: o.transaction_id, total: o.value, currency: c,
  // A line without an id would get the whole batch refused.
  items: items.filter(i => i.item_id != null).map(i => ({ id: i.item_id, qty: +i.quantity || 1, price: +i.price || 0 }))
});
