/* "Restore my cart": puts the in-stock products of the block's cart-history section back in the
 * shop's cart, through the platform adapter's restore, or else the shop's restore_url template
 * fetched once per product, one after another (a cart API may not take two adds at once).
 *
 * The button carries the items as JSON and the texts for a partial and a total failure, so the
 * server picks the words and the snippet only counts. */

import { encode, loc, timedFetch } from './page.js';
import { adapter, config } from './cartback.js';
import { beacon, track } from './transport.js';

// An async function never throws to its caller: it rejects, and a rejection nobody handles reaches
// the page's error handlers. Hence the try around all of it.
export const restore = async (button, block, blockId) => {
  try {
    const data = button.dataset, items = JSON.parse(data.cartbackRestore), template = config.restore_url;
    let ids = [];
    if (button.disabled || !(adapter.restore || template)) return;
    button.disabled = 1;
    try {
      if (adapter.restore) ids = (await adapter.restore(items)).added;
      // {variant} falls back to the id: most shops add to the cart by the id their catalog uses. A
      // shop's cart may be slow: 10 s, not the 4 s the widget's own calls get.
      else for (const item of items) {
        try {
          (await timedFetch(new URL(template.replace(/{(id|variant|qty)}/g,
            (_, key) => encode(key == 'variant' ? item.variant || item.id : item[key])), loc.href),
          { credentials: 'include' }, 1e4)).ok && ids.push(item.id);
        } catch (e) {}
      }
    // An adapter's restore that throws or rejects failed for every product.
    } catch (e) {}
    const added = items.filter(item => [].concat(ids).includes(item.id)),
      failed = items.filter(item => !added.includes(item));
    if (added[0]) {
      track({ type: 'restore', block: blockId, items: added.map(({ id, qty }) => ({ id, qty })) });
      // A reload follows at once: only a beacon is sure to arrive.
      beacon();
    }
    // All back in the cart: the shop's own page shows it best.
    if (!failed[0]) return loc.reload();
    // Some missing: the visitor reads which, and the button stays off (pressing again would add the
    // others twice). None went in: the visitor may try again.
    button.disabled = !!added[0];
    block.querySelector('[data-cartback-status]').textContent = added[0]
      ? data.cartbackPartial.replace('{names}', () => failed.map(({ id }, name) => (
        name = block.querySelector('[data-cartback-product="' + CSS.escape(id) + '"] .cartback__name'),
        name ? name.textContent.trim() : id)).join(', '))
      : data.cartbackFailed;
  } catch (e) {}
};
