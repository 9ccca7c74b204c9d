/* Shared by the platform adapters; esbuild inlines only what each adapter imports. Each adapter
 * must stay within 1,200 bytes gzipped, hence the terse style.
 *
 * An adapter lives inside somebody else's shop: nothing here may throw into the page, delay it, or
 * change what the page's own code gets back from fetch and XMLHttpRequest. */

export var W = window, D = document;
export var noop = () => {};

// The core appends the adapter only after /v1/config answered and set cartback.c; a copy loaded
// any other way (no config) stays inert.
export var start = run => { try { var cb = W.cartback; cb && cb.c && run(cb, cb.c) } catch (e) {} };

// Page callbacks (jQuery events, PrestaShop's emitter) run inside the page's own dispatch: an
// exception of ours there would break the theme's next handlers.
export var safe = f => (...a) => { try { return f(...a) } catch (e) {} };

export var ready = f => D.readyState == 'loading' ? D.addEventListener('DOMContentLoaded', f) : f();

// Callers run inside a try or a promise chain: a malformed URL only ends that one report.
export var abs = u => u && new URL(u, location.href).href;

export var cookie = k => (k = ('; ' + D.cookie).split('; ' + k + '=')[1]) && decodeURIComponent(k.split(';')[0]);

// A URLSearchParams body goes as application/x-www-form-urlencoded without a header of ours.
export var post = (u, body, headers) => fetch(u, { method: 'POST', headers, body });

/* seen(response clone, url) after each successful fetch of the page whose URL matches re; what
 * seen returns is awaited and its failure swallowed. The page keeps its own promise and response.
 * Themes that kept a reference to fetch from before the adapter loaded go unseen; each adapter's
 * read at load covers them. */
export var watchFetch = (re, seen, f) => {
  f = W.fetch;
  W.fetch = function (i) {
    var p = f.apply(this, arguments), u;
    try { re.test(u = i && i.url || '' + i) && p.then(r => r.ok && seen(r.clone(), u)).catch(noop) } catch (e) {}
    return p;
  };
};

// The same for XMLHttpRequest (jQuery's $.ajax: Magento, older Shopify themes): seen(xhr, url).
export var watchXHR = (re, seen, X, open) => {
  X = XMLHttpRequest.prototype;
  open = X.open;
  X.open = function (m, u) {
    var x = this;
    try { re.test(u) && x.addEventListener('load', safe(() => (x.status / 100 | 0) == 2 && seen(x, u))) } catch (e) {}
    return open.apply(x, arguments);
  };
};

/* The cart as the platform reports it, turned into events: the whole cart each time, plus an add
 * for each line that grew and a remove for each that left since the previous look. The first look
 * on a page only sets the baseline (t.b): a cart that was already full is no new add.
 * A line: {id, variant, qty, price, name, url, image, currency}; one without an id (no SKU set,
 * say) cannot be named to the server and is left out. */
export var tracker = cb => {
  var t = (lines, now, last) => {
    last = t.b;
    t.b = now = {};
    lines = lines.filter(l => l.id);
    lines.forEach(l => {
      var k = l.variant || l.id, was = last && (last[k] || { qty: 0 });
      now[k] = l;
      was && l.qty > was.qty && cb('add', l, l.qty - was.qty);
    });
    for (var k in last) now[k] || cb('remove', last[k].id);
    cb('cart', lines.map(l => ({ id: l.id, qty: l.qty, variant: l.variant, price: l.price })));
  };
  return t;
};

// Items put back one request at a time: the platforms' cart sessions do not take concurrent
// writes well, and the result must say which product failed. add(item) resolves truthy on success.
export var oneByOne = async (items, add, done, ok) => {
  done = { added: [], failed: [] };
  for (var i of items) {
    try { ok = await add(i) } catch (e) { ok = 0 }
    done[ok ? 'added' : 'failed'].push(i.id);
  }
  return done;
};
