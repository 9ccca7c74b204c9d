/* Cartback snippet: the browser half of the "continue where you left off" block.
 * Served as rjsmin.jsmin(this file); tests/browser keep its gzip under 2,500 bytes, so the code is
 * terse on purpose and the comments (stripped) say why. ES2017, no libraries.
 * Nothing here may throw into the shop's page: every entry point goes through z(). */
(function (w, d, N) {
  try {
    var s = d.currentScript || d.querySelector('script[data-shop][src*="snippet.js"]'),
      A = function (n) { return s.getAttribute('data-' + n) },
      sh = A('shop'),
      q = w.cartback;
    // A second copy of the tag must not replay the queue twice or attach a second observer.
    if (!sh || q && q.l) return;
    var E = (A('endpoint') || new URL(s.src).origin).replace(/\/+$/, ''),
      L = A('locale'), J = JSON.stringify, C = encodeURIComponent, U = location,
      TK = 'cartback:' + sh, TC = 'cartback_' + sh, OK = TK + ':optout', OC = TC + '_optout',
      pend = A('consent') == 'pending', G = N.globalPrivacyControl === true,
      Q = [], T, P, B, V, R, D, sel, lc, css, io, st, n = 0,
      x = function () {},
      // Wrap page-facing callbacks: an error in here is ours, never the page's.
      z = function (f) { return function (a, b) { try { return f(a, b) } catch (e) {} } },
      ckr = function (k) {
        var m = ('; ' + d.cookie).split('; ' + k + '=')[1];
        return m ? decodeURIComponent(m.split(';')[0]) : null
      },
      ckw = function (k, v) {
        d.cookie = k + '=' + C(v || '') + ';path=/;SameSite=Lax;max-age=' + (v ? 31536e3 : 0) + (U.protocol == 'https:' ? ';Secure' : '')
      },
      // localStorage first; a browser that refuses it (throws, or drops writes) gets a first-party cookie.
      gt = function (l, k) { var v; try { v = localStorage.getItem(l) } catch (e) {} return v || ckr(k) },
      pt = function (l, k, v) { try { localStorage.setItem(l, v) } catch (e) { ckw(k, v) } },
      rm = function (l, k) { try { localStorage.removeItem(l) } catch (e) {} ckr(k) != null && ckw(k) },
      // Not-yet-granted consent (pending, opt-out remembered, GPC) means not even reading the token.
      on = !pend && !G && !gt(OK, OC),
      ft = function (u, o) {
        var c = new AbortController();
        setTimeout(function () { c.abort() }, 4e3);
        return fetch(E + u, Object.assign({ signal: c.signal }, o))
      },
      body = function (b) {
        var v = gt(TK, TC);
        return '{"shop":' + J(sh) + (v ? ',"vid":' + J(v) : '') + ',"events":[' + b + ']}'
      },
      // Events are serialised when called: a bad argument is dropped alone, not with its batch,
      // and later changes the page makes to the object do not leak in.
      ev = function (o) { if (on) { Q.push(J(o)); T = T || setTimeout(fl, 60) } },
      // One POST at a time: a first-time visitor must come back with exactly one token.
      fl = function () {
        clearTimeout(T); T = 0;
        if (P) return P.then(fl);
        if (!Q.length) return Promise.resolve();
        return P = ft('/v1/events', { method: 'POST', keepalive: !0, body: body(Q.splice(0, 99)) })
          .then(function (r) { return r.json() })
          .then(function (j) { on && j.vid && pt(TK, TC, j.vid) })
          .catch(x).then(function () { P = 0; return fl() })
      },
      // The page may be going away (pagehide, a click that navigates): only a beacon survives that.
      bc = function () {
        clearTimeout(T); T = 0;
        Q.length && N.sendBeacon(E + '/v1/events', new Blob([body(Q.splice(0, 99))], { type: 'text/plain' }))
      },
      I = function (p) { p = p && typeof p == 'object' ? p.id : p; return p == null ? '' : '' + p },
      ok = function (i) { return i && i.length < 65 },
      pe = function (t, p, o) {
        var i = I(p);
        ok(i) && ev(Object.assign({ type: t, product: typeof p == 'object' ? Object.assign({}, p, { id: i }) : i }, o))
      },
      ie = function (t, p) { p = I(p); ok(p) && ev({ type: t, id: p }) },
      str = function (v) {
        v = [].concat(v)[0];
        v = v && (v.url || v.contentUrl || v.name || v);
        return typeof v == 'string' ? v : void 0
      },
      abs = function (u) { return u && new URL(u, U.href).href },
      // schema.org Product in JSON-LD, also inside @graph, arrays or a page's mainEntity.
      wk = function (o) {
        if (!o || typeof o != 'object') return;
        if (Array.isArray(o)) return o.forEach(wk);
        wk(o['@graph']); wk(o.mainEntity);
        if (/\bProduct\b/.test(o['@type'])) {
          var f = [].concat(o.offers || {})[0] || {}, a = f.availability, p = parseFloat(f.price || f.lowPrice);
          pe('view', {
            id: o.sku || o.productID || o['@id'], name: str(o.name), url: abs(str(o.url) || U.href),
            image: abs(str(o.image)), category: str(o.category), price: p >= 0 ? p : void 0,
            currency: str(f.priceCurrency), in_stock: a ? !/OutOf|SoldOut|Discontinued/.test(a) : void 0
          })
        }
      },
      vis = function (e) { return e.getClientRects().length && getComputedStyle(e).visibility != 'hidden' },
      fv = function (q) { return [].find.call(d.querySelectorAll(q), vis) },
      sch = function () { D = D || setTimeout(ck, 60) },
      // Re-asked only when a visible empty state appears or changes, so busy pages cost no requests.
      ck = z(function () {
        D = 0;
        if (!on || R) return;
        if (B && !B.isConnected) B = V = 0;
        if (B) return;
        var e = fv('[data-cartback="empty-cart"]'), a = 0;
        if (!e && sel) try { e = fv(sel); a = 1 } catch (_) {}
        if (e != V && (V = e)) show(e, a)
      }),
      css1 = function () {
        return css = css || new Promise(function (r) {
          var l = d.createElement('link');
          l.rel = 'stylesheet'; l.href = E + '/static/cartback.css'; l.onload = l.onerror = r;
          d.head.appendChild(l)
        })
      },
      show = function (t, a) {
        if (!t || R || B && B.isConnected || ++n > 9) return;
        R = 1;
        // Flush first so a cart([]) just called is committed before the block is asked for.
        fl().then(function () {
          var v = gt(TK, TC), l = L || lc;
          return v && on && ft('/v1/empty-cart?shop=' + C(sh) + '&vid=' + C(v) + (l ? '&locale=' + C(l) : ''))
        }).then(function (r) { return r && r.status == 200 && r.text() })
          .then(function (h) { return h && css1().then(function () { return h }) })
          .then(function (h) {
            var m = d.createElement('template'), b;
            m.innerHTML = h || '';
            b = m.content.firstElementChild;
            if (!b || !on || !t.isConnected || B && B.isConnected) return;
            t.insertAdjacentElement(a ? 'afterend' : 'beforeend', b);
            B = b;
            watch(b)
          }).catch(x).then(function () { R = 0; sch() })
      },
      watch = function (b) {
        var id = b.getAttribute('data-cartback-block');
        io = io || new IntersectionObserver(z(function (es) {
          es.forEach(function (e) {
            if (e.intersectionRatio >= .5) {
              io.unobserve(e.target);
              ev({ type: 'impression', block: e.target.getAttribute('data-cartback-block') })
            }
          })
        }), { threshold: .5 });
        io.observe(b);
        b.addEventListener('click', z(function (e) {
          var p = e.target.closest('[data-cartback-product]'), c = p && p.closest('[data-section]');
          if (p) {
            ev({ type: 'click', block: id, id: p.getAttribute('data-cartback-product'), section: c ? c.getAttribute('data-section') : void 0 });
            bc()
          }
        }))
      },
      go = function () {
        if (st) return;
        st = 1;
        ft('/v1/config?shop=' + C(sh)).then(function (r) { return r.json() })
          .then(function (c) { sel = c.selector; lc = c.locale; sch() }).catch(x);
        new MutationObserver(sch).observe(d.documentElement,
          { childList: !0, subtree: !0, attributes: !0, attributeFilter: ['class', 'style', 'hidden'] });
        var r = z(function () {
          d.querySelectorAll('script[type="application/ld+json"]').forEach(function (e) {
            try { wk(JSON.parse(e.textContent)) } catch (_) {}
          });
          sch()
        });
        d.readyState == 'loading' ? d.addEventListener('DOMContentLoaded', r) : r()
      },
      F = {
        view: function (p) { pe('view', p) },
        add: function (p, k) { pe('add', p, { qty: +k || 1 }) },
        favorite: function (p) { pe('favorite', p) },
        remove: function (p) { ie('remove', p) },
        unfavorite: function (p) { ie('unfavorite', p) },
        cart: function (a) {
          ev({ type: 'cart', items: [].concat(a || []).map(function (i) { return { id: I(i), qty: +i.qty || 1 } }).filter(function (i) { return ok(i.id) }) })
        },
        purchase: function (o) { ev(Object.assign({ type: 'purchase' }, o)) },
        render: function (t) { t = typeof t == 'string' ? d.querySelector(t) : t; V = t; show(t, 0) },
        consent: function (c) {
          if (c && c != 'false') { rm(OK, OC); on = 1; go() }
          else {
            // Withdrawn: drop what is queued, forget the visitor, and stay silent on later pages too.
            on = 0; Q.length = 0; rm(TK, TC); pt(OK, OC, '1')
          }
        }
      },
      api = z(function (v, a, b) { var f = F[v]; f && (on || v == 'consent') && f(a, b) });
    // A replayed cartback('render', …) comes before the real function is in place; nothing else is async.
    api.l = 1;
    w.cartback = function (v, a, b) { api(v, a, b) };
    w.cartback.l = 1;
    if (G && !pend) rm(TK, TC);
    (q && q.q || []).forEach(function (a) { api(a[0], a[1], a[2]) });
    on && go();
    addEventListener('pagehide', z(bc));
    d.addEventListener('visibilitychange', z(function () { d.visibilityState == 'hidden' && bc() }));
  } catch (e) {}
})(window, document, navigator);
