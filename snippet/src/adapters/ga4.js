/* Adapter for any shop tagged for GA4 e-commerce, whatever its platform: views, cart adds and
 * removes, wishlist adds and purchases from the shop's own `dataLayer` (shared/ga4.js).
 * No restore: GA4 knows nothing of the shop's cart API (such a shop can set restore_url). */

import { start } from './shared/lib.js';
import { dataLayer, item, viewItem, wishlist, purchase } from './shared/ga4.js';

start(cb => dataLayer({
  view_item: viewItem(cb),
  add_to_cart: (items, c) => items.map(i => cb('add', item(i, c), +i.quantity || 1)),
  remove_from_cart: items => items.map(i => cb('remove', i.item_id)),
  add_to_wishlist: wishlist(cb),
  purchase: purchase(cb)
}));
