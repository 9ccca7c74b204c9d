/* Cartback snippet: the browser half of the "continue where you left off" block.
 *
 * Served as rjsmin.jsmin(this file), which strips comments and spaces but renames nothing; the
 * browser tests fail when its gzip passes 2,500 bytes. Hence the short names, ES2017, no libraries.
 * Nothing may throw into the shop's page: page-facing callbacks go through z(), promise chains end
 * in .catch, and the whole file sits in one try.
 *
 * Names: h shop id, E endpoint, Q queued events (JSON strings), T flush timer, P the chain of
 * POSTs, B the block on the page, V the empty-state element last asked about, R a block request
 * running, D check timer, S the shop's empty-cart selector, on = tracking allowed, M the opt-out
 * marker's key suffix, y undefined. Wire formats: docs/WIRE.md. */
(function (w, d, N, U) {
  try {
    var s = d.currentScript || d.querySelector('script[data-shop][src*="snippet.js"]'),
      A = n => s.getAttribute('data-' + n),
      h = A('shop'),
      q = w.cartback;
    // A second copy of the tag must not replay the queue again or watch the page twice.
    if (!h || q && q.l) return;
    var E = (A('endpoint') || new URL(s.src).origin).replace(/\/+$/, ''),
      L = A('locale'), J = JSON.stringify, C = encodeURIComponent,
      // '.' cannot occur in a shop id: the marker's key never collides with another shop's token.
      O = Object.assign, M = '.optout',
      pn = A('consent') == 'pending', G = N.globalPrivacyControl === !0,
      Q = [], T, P = Promise.resolve(), B, V, R, D, S, ss, st, y, n = 0,
      x = () => {},
      z = f => (a, b, c) => { try { return f(a, b, c) } catch (e) {} },
      // Tokens are URL-safe (base64url and dots): no cookie escaping needed.
      cr = k => (k = ('; ' + d.cookie).split('; ' + k + '=')[1]) ? k.split(';')[0] : y,
      cw = (k, v) => d.cookie = k + '=' + v + ';path=/;SameSite=Lax;max-age=' + (v ? 31536e3 : 0),
      // localStorage first; a browser that refuses it (throws, or drops writes) gets a first-party cookie.
      // x: '' for the visitor token (cartback:SHOP / cartback_SHOP), M for the opt-out marker.
      gt = (x, v) => { try { v = localStorage.getItem('cartback:' + h + x) } catch (e) {} return v || cr('cartback_' + h + x) },
      pt = (x, v) => { try { localStorage.setItem('cartback:' + h + x, v) } catch (e) { cw('cartback_' + h + x, v) } },
      // An expired cookie deletes one and creates none.
      rm = x => { try { localStorage.removeItem('cartback:' + h + x) } catch (e) {} cw('cartback_' + h + x, '') },
      // Pending consent is decided before any storage is read: "store nothing" includes reading.
      on = !pn && !G && !gt(M),
      ft = (u, o, c) => (c = new AbortController(), setTimeout(() => c.abort(), 4e3), fetch(E + u, O({ signal: c.signal }, o))),
      bd = (b, v) => (v = gt(''), '{"shop":' + J(h) + (v ? ',"vid":' + J(v) : '') + ',"events":[' + b + ']}'),
      // Serialised at call time: a bad argument fails alone instead of with its batch, and later
      // changes the page makes to the object do not leak in.
      ev = o => { if (on) { Q.push(J(o)); T = T || setTimeout(fl, 60) } },
      // One POST at a time (a chain), so a first-time visitor comes back with exactly one token; each
      // link sends what is queued when its turn comes. The string body goes as
      // text/plain;charset=UTF-8, a simple request: no CORS preflight.
      fl = () => (clearTimeout(T), T = 0, P = P.then(() => Q.length && ft('/v1/events', { method: 'POST', keepalive: !0, body: bd(Q.splice(0, 99)) })
        .then(r => r.json()).then(j => { on && j.vid && pt('', j.vid) })).catch(x)),
      // The page may be going away (pagehide, a click that navigates): only a beacon outlives it.
      // A string body goes as text/plain;charset=UTF-8, like the fetch: no preflight either way.
      bc = () => { clearTimeout(T); T = 0; Q.length && N.sendBeacon(E + '/v1/events', bd(Q.splice(0, 99))) },
      I = p => (p = p && typeof p == 'object' ? p.id : p) == y ? '' : '' + p,
      ok = i => i && i.length < 65,
      pe = (t, p, o, i) => { i = I(p); ok(i) && ev(O({ type: t, product: typeof p == 'object' ? O({}, p, { id: i }) : i }, o)) },
      ie = (t, p) => { p = I(p); ok(p) && ev({ type: t, id: p }) },
      // schema.org lets most values be a string, an object (ImageObject, Thing) or an array of them.
      sv = v => (v = [].concat(v)[0], v = v && (v.url || v.contentUrl || v.name || v), typeof v == 'string' ? v : y),
      ab = u => u && new URL(u, U.href).href,
      // A schema.org Product in JSON-LD, also inside @graph or an array.
      wk = o => {
        // Strings and numbers fall through harmlessly; arrays have .map, plain objects do not.
        if (o) if (o.map) o.forEach(wk); else {
          wk(o['@graph']);
          if (/\bProduct\b/.test(o['@type'])) {
            var f = [].concat(o.offers)[0] || {}, a = f.availability, p = parseFloat(f.price || f.lowPrice);
            pe('view', {
              id: o.sku || o.productID || o['@id'], name: sv(o.name), url: ab(sv(o.url) || U.href),
              image: ab(sv(o.image)), category: sv(o.category), price: p >= 0 ? p : y,
              currency: sv(f.priceCurrency), in_stock: a ? !/Out|Disc/.test(a) : y
            })
          }
        }
      },
      // Themes hide an always-present empty state with CSS (Dawn), so presence is not enough.
      vi = e => e.getClientRects().length && getComputedStyle(e).visibility != 'hidden',
      fv = q => [].find.call(d.querySelectorAll(q), vi),
      sc = () => { D = D || setTimeout(ck, 60) },
      // A throttle, not a debounce: a page that mutates non-stop would starve a debounce.
      // Asks again only when the visible empty state is a new element, so busy pages cost nothing.
      ck = z(() => {
        D = 0;
        if (!on || R) return;
        if (B && !B.isConnected) B = V = 0;
        if (B) return;
        var e = fv('[data-cartback=empty-cart]'), a = 0;
        // A bad selector throws here and ends this check only; the placeholder came first.
        if (!e && S) e = fv(S), a = 1;
        if (e != V && (V = e)) sh(e, a)
      }),
      // The block waits for its stylesheet so it never flashes unstyled.
      cs = () => ss = ss || new Promise(r => d.head.appendChild(O(d.createElement('link'), { rel: 'stylesheet', href: E + '/static/cartback.css', onload: r, onerror: r }))),
      sh = (t, a) => {
        // ++n caps block requests per page, in case a page keeps removing the block.
        if (!t || R || B && B.isConnected || ++n > 9) return;
        R = 1;
        // Flush first so a cart([]) just called is committed before the block is asked for.
        fl().then(() => {
          var v = gt('');
          // No locale: the server falls back to the shop's.
          return v && on && ft('/v1/empty-cart?shop=' + C(h) + '&vid=' + C(v) + (L ? '&locale=' + C(L) : ''))
        // A 204 reads as '' and inserts nothing.
        }).then(r => r && r.ok && r.text())
          .then(m => m && cs().then(() => {
            var e = d.createElement('template'), b;
            e.innerHTML = m;
            b = e.content.firstElementChild;
            b && on && t.isConnected && !(B && B.isConnected) && (a ? t.after(b) : t.append(b), wa(B = b))
          })).catch(x).then(() => { R = 0; sc() })
      },
      wa = b => {
        // Viewable: half of the block on screen, or, for a block too tall for that (a phone, two
        // cards a row), half of the screen filled by it: no fixed ratio, so the observer reports
        // at .2 and .3 too (a block of 2 to 5 screens fills half of one by then).
        var id = b.dataset.cartbackBlock,
          o = new IntersectionObserver(z(es => es.some(e => e.intersectionRatio >= .5 || e.intersectionRect.height > innerHeight / 2) && (o.disconnect(), ev({ type: 'impression', block: id }))), { threshold: [.2, .3, .5] });
        o.observe(b);
        b.addEventListener('click', z(e => {
          var p = e.target.closest('[data-cartback-product]'), c = p && p.closest('[data-section]');
          if (p) {
            ev({ type: 'click', block: id, id: p.dataset.cartbackProduct, section: c && c.dataset.section });
            bc()
          }
        }))
      },
      go = () => {
        if (st) return;
        st = 1;
        ft('/v1/config?shop=' + C(h)).then(r => r.json()).then(c => { S = c.selector; sc() }).catch(x);
        // Carts empty without a page load (AJAX, React): watch what can reveal an empty state.
        new MutationObserver(sc).observe(d.documentElement, { childList: !0, subtree: !0, attributeFilter: ['class', 'style', 'hidden'] });
        // An async script may run before the body is parsed.
        var r = z(() => {
          d.querySelectorAll('script[type="application/ld+json"]').forEach(e => { try { wk(JSON.parse(e.textContent)) } catch (_) {} });
          sc()
        });
        d.readyState == 'loading' ? d.addEventListener('DOMContentLoaded', r) : r()
      },
      F = {
        // One bad item drops the call: sending the rest would tell the server the wrong cart.
        cart: a => (a = (a || []).map(i => ({ id: I(i), qty: +i.qty || 1 }))).every(i => ok(i.id)) && ev({ type: 'cart', items: a }),
        purchase: o => ok(I(o && o.order_id)) && ev(O({ type: 'purchase' }, o)),
        // A queued render('#id') can replay before the body is parsed: look again once it is.
        render: (t, e) => { e = typeof t == 'string' ? d.querySelector(t) : t; e || d.readyState != 'loading' ? sh(V = e, 0) : d.addEventListener('DOMContentLoaded', () => api('render', t)) },
        consent: c => {
          if (c && c != 'false') { rm(M); on = 1; go() }
          // Withdrawn: drop what is queued, forget the visitor, stay silent on later pages too.
          else { on = 0; Q.length = 0; rm(''); pt(M, '1') }
        }
      },
      api = w.cartback = z((v, a, b) => {
        (on || v == 'consent') && (/^(view|add|favorite)$/.test(v) ? pe(v, a, v == 'add' && { qty: +b || 1 }) :
          /^(remove|unfavorite)$/.test(v) ? ie(v, a) : F[v] && F[v](a))
      });
    api.l = 1;
    G && !pn && rm('');
    (q && q.q || []).forEach(a => api.apply(0, a));
    on && go();
    addEventListener('pagehide', z(bc));
    d.addEventListener('visibilitychange', z(() => d.hidden && bc()))
  } catch (e) {}
})(window, document, navigator, location);
