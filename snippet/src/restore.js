/* "Restore my cart", built on its own into dist/restore.js (served as /snippet/restore.js): the core
 * loads it only when a block it received has the button, which keeps it out of the core that every
 * page view of every shop downloads (2,500 B gzipped budget).
 *
 * On a click of [data-cartback-restore] it puts the listed in-stock products back in the shop's
 * cart: through the platform adapter's restore (registered on the core as window.cartback.a), or
 * else the shop's restore_url template (window.cartback.c, the config) fetched once per product, one
 * after another (a cart API may not take two adds at once). The button carries the items as JSON
 * and the texts for a partial and a total failure, so the server picks the words and this only
 * counts. What went in is reported through the core: cartback('restore', blockId, items). */

import { doc, encode, loc, quiet, timedFetch } from './page.js';

// An async function never throws to its caller: it rejects, and a rejection nobody handles reaches
// the page's error handlers. Hence the try around all of it.
const restore = async button => {
  try {
    const cb = window.cartback, adapter = cb.a || {}, template = (cb.c || {}).restore_url, data = button.dataset,
      block = button.closest('[data-cartback-block]'), items = JSON.parse(data.cartbackRestore);
    let ids = [];
    if (button.disabled || !(adapter.restore || template)) return;
    button.disabled = true;
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
    // Sent by beacon: a reload may follow at once.
    added[0] && cb('restore', block.dataset.cartbackBlock, added.map(({ id, qty }) => ({ id, qty })));
    // All back in the cart: the shop's own page shows it best.
    if (!failed[0]) return loc.reload();
    // Some missing: the visitor reads which, and the button stays off (pressing again would add the
    // others twice). None went in: the visitor may try again.
    button.disabled = !!added[0];
    block.querySelector('[data-cartback-status]').textContent = added[0]
      ? data.cartbackPartial.replace('{names}', () => failed.map(({ id }) => {
        const name = block.querySelector('[data-cartback-product="' + CSS.escape(id) + '"] .cartback__name');
        return name ? name.textContent.trim() : id;
      }).join(', '))
      : data.cartbackFailed;
  } catch (e) {}
};

// Capture phase: a page's own handler that stops the click must not stop the restore.
doc.addEventListener('click', quiet(e => {
  const button = e.target.closest('.cartback [data-cartback-restore]');
  button && restore(button);
}), true);
