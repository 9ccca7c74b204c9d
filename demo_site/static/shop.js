/* Kovan & Çiçek: the demo shop's own script (cart, favourites, language, demo toolbar).
 *
 * The cart lives in localStorage with its creation time and expires 24 hours later, as real shop
 * carts do. The demo toolbar moves the shop's clock ahead (a stored offset), so a marketer can see
 * the empty cart a returning visitor sees. Every cart and favourite change is reported to Cartback
 * through its public API: cartback('add' | 'remove' | 'cart' | 'favorite' | 'unfavorite' | 'purchase').
 */
(function () {
  'use strict';

  var DAY = 24 * 60 * 60 * 1000;
  var KEYS = { cart: 'kovan:cart', favs: 'kovan:favs', offset: 'kovan:offset', locale: 'kovan:locale' };
  var NOTICE = 'kovan:notice'; // sessionStorage: what to tell after a demo action reloads the page
  var data = null;
  var expiredOnLoad = false;

  function cfg() {
    if (!data) data = JSON.parse(document.getElementById('kovan-data').textContent);
    return data;
  }
  function t(key, vars) {
    var s = cfg().t[key] || key;
    for (var k in vars || {}) s = s.split('{' + k + '}').join(vars[k]);
    return s;
  }
  function money(amount) {
    var n = new Intl.NumberFormat(cfg().locale === 'tr' ? 'tr-TR' : 'en-US',
      { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(amount);
    return cfg().money.replace('{n}', n);
  }
  // Cartback must never break the shop: a missing or failing snippet is ignored.
  function cb() {
    try { if (window.cartback) window.cartback.apply(null, arguments); } catch (e) { /* ignore */ }
  }
  function read(key, fallback) {
    try { var v = localStorage.getItem(key); return v ? JSON.parse(v) : fallback; } catch (e) { return fallback; }
  }
  function write(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function drop(key) {
    try { localStorage.removeItem(key); } catch (e) { /* ignore */ }
  }

  // --- the shop's clock -------------------------------------------------------------------------
  function offset() { return Number(read(KEYS.offset, 0)) || 0; }
  function now() { return Date.now() + offset(); }

  // --- products ---------------------------------------------------------------------------------
  function product(id) { return cfg().catalog[id]; }
  // What Cartback receives: the public product object of the contract.
  function payload(id) {
    var p = product(id);
    return { id: p.id, name: p.name, price: p.price, currency: p.currency, url: p.url, image: p.image,
      category: p.category, in_stock: p.in_stock };
  }

  // --- cart -------------------------------------------------------------------------------------
  function loadCart() {
    var c = read(KEYS.cart, null);
    if (!c || !c.items || !c.items.length) return { created: 0, items: [] };
    if (now() - c.created >= DAY) {
      drop(KEYS.cart);
      expiredOnLoad = true;
      return { created: 0, items: [] };
    }
    c.items = c.items.filter(function (i) { return product(i.id) && i.qty > 0; });
    return c;
  }
  function saveCart(c) {
    if (c.items.length) write(KEYS.cart, { created: c.created, items: c.items });
    else drop(KEYS.cart);
    updateCounts();
  }
  function cartItems(c) {
    return c.items.map(function (i) { return { id: i.id, qty: i.qty }; });
  }
  function addToCart(id, qty) {
    var p = product(id);
    if (!p || !p.in_stock) return;
    qty = Math.max(1, Math.min(99, parseInt(qty, 10) || 1));
    var c = loadCart();
    if (!c.items.length) c.created = now();
    var line = c.items.filter(function (i) { return i.id === id; })[0];
    if (line) line.qty += qty; else c.items.push({ id: id, qty: qty });
    saveCart(c);
    cb('add', payload(id), qty);
    toast(t('added') + ': ' + p.name, { href: '/sepet', text: t('go_to_cart') });
  }
  function removeFromCart(id) {
    var c = loadCart();
    c.items = c.items.filter(function (i) { return i.id !== id; });
    saveCart(c);
    cb('remove', id);
    return c;
  }
  function setQty(id, qty) {
    if (qty < 1) return removeFromCart(id);
    var c = loadCart();
    c.items.forEach(function (i) { if (i.id === id) i.qty = Math.min(99, qty); });
    saveCart(c);
    cb('cart', cartItems(c));
    return c;
  }

  // --- favourites -------------------------------------------------------------------------------
  function favs() { return read(KEYS.favs, []).filter(function (id) { return product(id); }); }
  function toggleFav(id) {
    var list = favs(), i = list.indexOf(id);
    if (i >= 0) { list.splice(i, 1); cb('unfavorite', id); } else { list.unshift(id); cb('favorite', payload(id)); }
    write(KEYS.favs, list);
    paintFavs();
    updateCounts();
    return i < 0;
  }
  function paintFavs() {
    var list = favs();
    var buttons = document.querySelectorAll('[data-fav]');
    for (var k = 0; k < buttons.length; k++) {
      var b = buttons[k], on = list.indexOf(b.getAttribute('data-fav')) >= 0;
      var label = b.getAttribute(on ? 'data-label-remove' : 'data-label-add');
      b.setAttribute('aria-pressed', on ? 'true' : 'false');
      b.setAttribute('aria-label', label + ': ' + b.getAttribute('data-name'));
      b.title = label;
      var text = b.querySelector('.fav__text');
      if (text) text.textContent = label;
    }
  }

  // --- header, toolbar, toast -------------------------------------------------------------------
  function updateCounts() {
    var n = 0;
    loadCart().items.forEach(function (i) { n += i.qty; });
    var cc = document.getElementById('cart-count'), fc = document.getElementById('fav-count');
    if (cc) cc.textContent = String(n);
    if (fc) fc.textContent = String(favs().length);
  }
  var toastTimer = 0;
  function toast(text, link) {
    var el = document.getElementById('toast');
    if (!el) return;
    el.textContent = text + ' ';
    if (link) {
      var a = document.createElement('a');
      a.href = link.href; a.textContent = link.text;
      el.appendChild(a);
    }
    el.classList.add('toast--on');
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.classList.remove('toast--on'); }, 3500);
  }
  function paintToolbar() {
    var clock = document.getElementById('demo-clock');
    var hours = Math.round(offset() / 36e5);
    if (clock) {
      clock.textContent = hours ? clock.getAttribute('data-later').replace('{hours}', hours) : clock.getAttribute('data-now');
      clock.parentNode.classList.toggle('demo-bar__clock--moved', hours > 0);
    }
    var notice = document.getElementById('demo-notice'), what = null;
    try { what = sessionStorage.getItem(NOTICE); sessionStorage.removeItem(NOTICE); } catch (e) { /* ignore */ }
    if (!notice) return;
    if (expiredOnLoad) {
      notice.textContent = t('demo_expired') + ' ';
      if (location.pathname !== '/sepet') {
        var a = document.createElement('a');
        a.href = '/sepet'; a.textContent = t('demo_expired_cta');
        notice.appendChild(a);
      }
      notice.hidden = false;
    } else if (what === 'reset') {
      notice.textContent = t('demo_reset_done');
      notice.hidden = false;
    }
  }
  function demoForward() {
    write(KEYS.offset, offset() + DAY);
    try { sessionStorage.setItem(NOTICE, 'forward'); } catch (e) { /* ignore */ }
    location.reload();
  }
  function demoReset() {
    drop(KEYS.cart); drop(KEYS.favs); drop(KEYS.offset);
    // Cartback keeps its visitor token as cartback:<shop> (a cookie cartback_<shop> where storage fails).
    try {
      for (var i = localStorage.length - 1; i >= 0; i--) {
        var k = localStorage.key(i);
        if (k && k.indexOf('cartback') === 0) localStorage.removeItem(k);
      }
    } catch (e) { /* ignore */ }
    document.cookie.split('; ').forEach(function (c) {
      var name = c.split('=')[0];
      if (name.indexOf('cartback') === 0) document.cookie = name + '=;path=/;max-age=0';
    });
    try { sessionStorage.setItem(NOTICE, 'reset'); } catch (e) { /* ignore */ }
    location.reload();
  }

  // --- cart page --------------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'className') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c) e.appendChild(c); });
    return e;
  }
  function localPath(url) {
    try { return new URL(url).pathname; } catch (e) { return url; }
  }
  function emptyState() {
    return el('section', { className: 'cart-empty', 'aria-labelledby': 'cart-empty-title' }, [
      el('div', { className: 'cart-empty__box' }, [
        el('img', { className: 'cart-empty__icon', src: '/static/img/empty-jar.svg', alt: '', width: '72', height: '72' }),
        el('h2', { id: 'cart-empty-title', className: 'cart-empty__title', text: t('cart_empty_title') }),
        el('p', { text: t('cart_empty_text') }),
        el('a', { className: 'btn', href: '/', text: t('continue_shopping') })
      ]),
      // Cartback fills this element with the "continue where you left off" block.
      el('div', { 'data-cartback': 'empty-cart', className: 'cart-empty__block' })
    ]);
  }
  function cartLine(i) {
    var p = product(i.id);
    return el('li', { className: 'cart-line', 'data-id': p.id }, [
      el('a', { className: 'cart-line__media', href: localPath(p.url), tabindex: '-1', 'aria-hidden': 'true' }, [
        el('img', { src: localPath(p.image), alt: '', width: '96', height: '96' })
      ]),
      el('div', { className: 'cart-line__info' }, [
        el('a', { className: 'cart-line__name', href: localPath(p.url), text: p.name }),
        el('span', { className: 'cart-line__unit', text: money(p.price) })
      ]),
      el('div', { className: 'stepper', role: 'group', 'aria-label': t('quantity') + ': ' + p.name }, [
        el('button', { type: 'button', className: 'stepper__btn', 'data-step': '-1', 'data-id': p.id,
          'aria-label': t('decrease', { name: p.name }), text: '−' }),
        el('output', { className: 'stepper__qty', 'aria-live': 'polite', text: String(i.qty) }),
        el('button', { type: 'button', className: 'stepper__btn', 'data-step': '1', 'data-id': p.id,
          'aria-label': t('increase', { name: p.name }), text: '+' })
      ]),
      el('span', { className: 'cart-line__total', text: money(p.price * i.qty) }),
      el('button', { type: 'button', className: 'link-btn', 'data-remove': p.id,
        'aria-label': t('remove_item', { name: p.name }), text: t('remove') })
    ]);
  }
  function totals(c) {
    var sum = 0;
    c.items.forEach(function (i) { sum += product(i.id).price * i.qty; });
    return Math.round(sum * 100) / 100;
  }
  function renderCart(root) {
    root = root || document.getElementById('cart-root');
    if (!root) return;
    var c = loadCart();
    cb('cart', cartItems(c)); // the whole cart as it is now; [] when empty
    paintCart(root, c);
  }
  function paintCart(root, c) {
    root.textContent = '';
    if (!c.items.length) { root.appendChild(emptyState()); updateCounts(); return; }
    var sum = totals(c), shipping = sum >= 750 ? 0 : 49.9;
    root.appendChild(el('div', { className: 'cart' }, [
      el('ul', { className: 'cart-lines', 'aria-label': t('cart_title') }, c.items.map(cartLine)),
      el('aside', { className: 'summary', 'aria-label': t('total') }, [
        el('dl', {}, [
          el('div', {}, [el('dt', { text: t('subtotal') }), el('dd', { text: money(sum) })]),
          el('div', {}, [el('dt', { text: t('shipping') }), el('dd', { text: shipping ? money(shipping) : t('free') })]),
          el('div', { className: 'summary__total' }, [el('dt', { text: t('total') }), el('dd', { text: money(sum + shipping) })])
        ]),
        el('button', { type: 'button', className: 'btn btn--big btn--block', id: 'checkout', text: t('checkout') }),
        el('p', { className: 'summary__note', text: t('checkout_note') })
      ])
    ]));
    updateCounts();
  }
  function checkout() {
    var c = loadCart();
    if (!c.items.length) return;
    var sum = totals(c), shipping = sum >= 750 ? 0 : 49.9;
    var order = 'KC-' + Date.now().toString(36).toUpperCase();
    cb('purchase', {
      order_id: order, total: Math.round((sum + shipping) * 100) / 100, currency: 'TRY',
      items: c.items.map(function (i) { return { id: i.id, price: product(i.id).price, qty: i.qty }; })
    });
    c.items = [];
    saveCart(c);
    cb('cart', []);
    var done = document.getElementById('order-done');
    if (done) { done.textContent = t('order_done', { order: order }); done.hidden = false; }
    paintCart(document.getElementById('cart-root'), c);
  }

  // --- favourites page --------------------------------------------------------------------------
  function renderFavorites(grid, empty) {
    var list = favs(), shown = 0;
    var cards = grid.querySelectorAll('[data-product]');
    for (var k = 0; k < cards.length; k++) {
      var on = list.indexOf(cards[k].getAttribute('data-product')) >= 0;
      cards[k].hidden = !on;
      if (on) shown++;
    }
    if (empty) empty.hidden = shown > 0;
  }

  // --- events -----------------------------------------------------------------------------------
  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('button, a[data-lang]');
    if (!b) return;
    var id;
    if ((id = b.getAttribute('data-add'))) {
      var input = b.getAttribute('data-qty-input') && document.getElementById(b.getAttribute('data-qty-input'));
      addToCart(id, input ? input.value : 1);
    } else if ((id = b.getAttribute('data-fav'))) {
      toggleFav(id);
      var grid = document.getElementById('fav-grid');
      if (grid) renderFavorites(grid, document.getElementById('fav-empty'));
    } else if ((id = b.getAttribute('data-remove'))) {
      paintCart(document.getElementById('cart-root'), removeFromCart(id));
      // The pressed button is gone: keep keyboard users in the cart.
      var next = document.querySelector('[data-remove]') || document.getElementById('cart-empty-title');
      if (next) { if (!next.matches('button')) next.setAttribute('tabindex', '-1'); next.focus(); }
    } else if (b.hasAttribute('data-step')) {
      id = b.getAttribute('data-id');
      var line = loadCart().items.filter(function (i) { return i.id === id; })[0];
      if (line) paintCart(document.getElementById('cart-root'), setQty(id, line.qty + Number(b.getAttribute('data-step'))));
      var again = document.querySelector('[data-step="' + b.getAttribute('data-step') + '"][data-id="' + id + '"]');
      if (again) again.focus();
    } else if (b.id === 'checkout') {
      checkout();
    } else if (b.getAttribute('data-demo') === 'forward') {
      demoForward();
    } else if (b.getAttribute('data-demo') === 'reset') {
      demoReset();
    } else if (b.hasAttribute('data-lang')) {
      // The link's ?lang= tells the server (a cookie); localStorage remembers it for this browser.
      try { localStorage.setItem(KEYS.locale, b.getAttribute('data-lang')); } catch (err) { /* ignore */ }
    }
  });

  // Runs at the end of <body>: header counts, favourite buttons, toolbar state.
  function boot() {
    updateCounts();
    paintFavs();
    paintToolbar();
  }

  // A cart that expired while the visitor was away is reported as empty on whatever page they land.
  loadCart();
  if (expiredOnLoad && location.pathname !== '/sepet') cb('cart', []);

  window.Kovan = {
    boot: boot, renderCart: renderCart, renderFavorites: renderFavorites,
    addToCart: addToCart, removeFromCart: removeFromCart, toggleFav: toggleFav, now: now
  };
})();
