/* Cartback snippet: the browser half of the "continue where you left off" block.
 *
 * Built by esbuild (snippet/build.mjs) into dist/cartback.js, one minified ES2017 IIFE; tests fail
 * when its gzip passes 2,500 bytes, so: no libraries, no polyfills, nothing a shop's page might not
 * need. Nothing may throw into the shop's page: callbacks from the page or the browser go through
 * quiet(), async functions catch all they do, and all that runs at load sits in one try.
 *
 * This module is the install tag and the public API, window.cartback(verb, ...); calls made before
 * this file loaded wait in cartback.q (the inline stub) and are replayed in order. It owns what the
 * tag, the visitor and the shop's config said, which the other modules read (set only here).
 * Wire formats: docs/WIRE.md. */

import { addToHead, assign, doc, encode, noop, quiet } from './page.js';
import { OPT_OUT, TOKEN, readValue, removeValue, writeValue } from './storage.js';
import { beacon, queue, request, track } from './transport.js';
import { idOf, readJsonLd, trackId, trackProduct, validId } from './products.js';
import { render, scheduleCheck } from './empty-state.js';

export let shop;
export let endpoint;
export let locale;
// Whether this visitor may be tracked: changes with consent.
export let tracking;
// GET /v1/config: {selector, platform, id_field, restore_url, adapter, ...}; also window.cartback.c,
// where adapters and restore.js read it.
export let config = {};

try {
  const script = doc.currentScript || doc.querySelector('script[data-shop][src*="snippet.js"]'),
    data = script.dataset,
    queued = window.cartback,
    pending = data.consent == 'pending',
    gpc = navigator.globalPrivacyControl == true;
  shop = data.shop;
  // A second copy of the tag must not replay the queue again or watch the page twice.
  if (shop && !(queued && queued.l)) {
    endpoint = (data.endpoint || new URL(script.src).origin).replace(/\/+$/, '');
    locale = data.locale;
    let started;

    const start = () => {
      if (started) return;
      started = 1;
      request('/v1/config?shop=' + encode(shop)).then(r => r.json()).then(c => {
        config = api.c = c;
        scheduleCheck();
        // The adapter is its own file (src/adapters/), so shops on other platforms never download
        // it; it reads window.cartback.c and registers through cartback('adapter', ...).
        c.adapter && addToHead('script', { src: c.adapter });
      }).catch(noop);
      // Carts empty without a page load (AJAX, React): watch what can reveal an empty state.
      new MutationObserver(scheduleCheck).observe(doc.documentElement,
        { childList: true, subtree: true, attributeFilter: ['class', 'style', 'hidden'] });
      // An async script may run before the body is parsed.
      const ready = quiet(() => {
        // One bad script (not JSON) skips itself only.
        doc.querySelectorAll('script[type="application/ld+json"]').forEach(quiet(e => readJsonLd(JSON.parse(e.textContent))));
        scheduleCheck();
      });
      doc.readyState == 'loading' ? doc.addEventListener('DOMContentLoaded', ready) : ready();
    };

    const verbs = {
      // One bad item drops the call: sending the rest would tell the server the wrong cart.
      // The lines keep what else they carry (variant, price): the restore button needs the variant.
      cart: items => (items = (items || []).map(i => assign({}, i.id && i, { id: idOf(i), qty: +i.qty || 1 })))
        .every(i => validId(i.id)) && track({ type: 'cart', items }),
      purchase: order => validId(idOf(order && order.order_id)) && track(assign({ type: 'purchase' }, order)),
      render,
      consent: given => {
        if (given && given != 'false') {
          removeValue(OPT_OUT);
          tracking = 1;
          start();
        } else {
          // Withdrawn: drop what is queued, forget the visitor, stay silent on later pages too.
          tracking = queue.length = 0;
          removeValue(TOKEN);
          writeValue(OPT_OUT, '1');
        }
      },
      // Registering is not tracking: it needs no consent (what the adapter reports does). The
      // restore button's code (restore.js, loaded with a block that has the button) reads it there.
      adapter: registered => {
        api.a = registered;
      },
      // From restore.js: what went back in the cart. By beacon: a reload may follow at once.
      restore: (block, items) => beacon(track({ type: 'restore', block, items })),
    };

    // No consent gate here: every verb ends in track() or a block request, which check it.
    const api = window.cartback = quiet((verb, a, b) => {
      /^(view|add|favorite)$/.test(verb) ? trackProduct(verb, a, verb == 'add' && { qty: +b || 1 })
        : /^(remove|unfavorite)$/.test(verb) ? trackId(verb, a)
          : verbs[verb] && verbs[verb](a, b);
    });
    api.l = 1;

    // Pending consent is decided before any storage is read: "store nothing" includes reading.
    tracking = !pending && !gpc && !readValue(OPT_OUT);
    gpc && !pending && removeValue(TOKEN);
    (queued && queued.q || []).forEach(args => api.apply(0, args));
    tracking && start();
    addEventListener('pagehide', quiet(beacon));
    doc.addEventListener('visibilitychange', quiet(() => doc.hidden && beacon()));
  }
} catch (e) {}
