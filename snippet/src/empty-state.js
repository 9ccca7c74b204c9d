/* Finding the empty cart and putting the block there.
 *
 * The empty state is the placeholder [data-cartback=empty-cart], an element the page names with
 * render(), or the first visible match of the shop's selector (from /v1/config), after which the
 * block goes. Carts empty without a page load too (AJAX, React), so checks run again whenever the
 * page changes, throttled. */

import { addToHead, doc, encode, quiet } from './page.js';
import { config, endpoint, locale, shop, tracking } from './cartback.js';
import { TOKEN, readValue } from './storage.js';
import { flush, request } from './transport.js';
import { watchBlock } from './block.js';

let block;        // the block on the page
let lastEmpty;    // the empty-state element last asked about
let requesting;   // a block request is running
let checkTimer;
let stylesheet;   // a promise: the block's stylesheet has loaded (or failed)
let requests = 0;
let restoreCode;   // the restore button's code was asked for

// Themes hide an always-present empty state with CSS (Dawn), so presence is not enough.
const visible = e => e.getClientRects().length && getComputedStyle(e).visibility != 'hidden';
const firstVisible = css => [].find.call(doc.querySelectorAll(css), visible);

export const scheduleCheck = () => {
  checkTimer = checkTimer || setTimeout(check, 60);
};

// A throttle, not a debounce: a page that mutates non-stop would starve a debounce.
// Asks again only when the visible empty state is a new element, so busy pages cost nothing.
const check = quiet(() => {
  checkTimer = 0;
  if (!tracking || requesting || block && block.isConnected) return;
  // The page removed the block: what is empty now is asked about afresh.
  if (block) block = lastEmpty = 0;
  let target = firstVisible('[data-cartback=empty-cart]'), after = 0;
  // A bad selector throws here and ends this check only; the placeholder came first.
  if (!target && config.selector) target = firstVisible(config.selector), after = 1;
  if (target != lastEmpty && (lastEmpty = target)) showBlock(target, after);
});

// render(): the page names the element (or a selector for it). A queued render('#id') can replay
// before the body is parsed: look again once it is.
export const render = (target, element) => {
  element = typeof target == 'string' ? doc.querySelector(target) : target;
  element || doc.readyState != 'loading' ? showBlock(lastEmpty = element, 0)
    : doc.addEventListener('DOMContentLoaded', quiet(() => render(target)));
};

// `after`: the block goes after the target (a platform's empty state), else into it (our
// placeholder, render()). An async function never throws, it rejects: hence the try around all.
const showBlock = async (target, after) => {
  // The count caps block requests per page, in case a page keeps removing the block.
  if (!tracking || !target || requesting || block && block.isConnected || ++requests > 9) return;
  requesting = 1;
  try {
    // Flush first so a cart([]) just called is committed before the block is asked for.
    await flush();
    const token = readValue(TOKEN),
      // No locale: the server falls back to the shop's.
      answer = token && tracking &&
        await request('/v1/empty-cart?shop=' + encode(shop) + '&vid=' + encode(token) + (locale ? '&locale=' + encode(locale) : '')),
      // A 204 reads as '' and inserts nothing.
      html = answer && answer.ok && await answer.text(),
      t = doc.createElement('template');
    if (html) {
      // The restore button's code loads meanwhile, once: most blocks are never restored from.
      restoreCode || !html.includes('data-cartback-restore') || addToHead('script', { src: restoreCode = endpoint + '/snippet/restore.js' });
      // The block waits for its stylesheet so it never flashes unstyled.
      await (stylesheet = stylesheet || new Promise(done =>
        addToHead('link', { rel: 'stylesheet', href: endpoint + '/static/cartback.css', onload: done, onerror: done })));
      t.innerHTML = html;
      const fresh = t.content.firstElementChild;
      fresh && tracking && target.isConnected && !(block && block.isConnected) &&
        (target[after ? 'after' : 'append'](fresh), watchBlock(block = fresh));
    }
  } catch (e) {}
  requesting = 0;
  scheduleCheck();
};
