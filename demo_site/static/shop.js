/* Kovan & Çiçek: the demo shop's theme script, written the way a Shopify Dawn theme works.
 *
 * The cart lives on the shop's server. This script only talks to Shopify's AJAX cart API, as Dawn
 * does: the product form is sent with fetch to routes.cart_add_url (/cart/add, FormData, Accept:
 * application/javascript), a quantity change or removal goes to routes.cart_change_url (/cart/change,
 * JSON {line, quantity}), and the cart's contents are then re-rendered from the server (Section
 * Rendering API: /cart?section_id=main-cart-items). When a change empties the cart, <cart-items>
 * gets the class is-empty and CSS reveals Dawn's empty state.
 *
 * The heart button is a wishlist app: it keeps the list in localStorage and, being GA4-tagged,
 * pushes add_to_wishlist to the dataLayer. Nothing here calls Cartback: the shop carries only its
 * install tag, and the snippet finds out the rest by itself.
 */
(function () {
  'use strict';

  var KEYS = { favs: 'kovan:favs' };
  var data = null;

  function cfg() {
    if (!data) data = JSON.parse(document.getElementById('kovan-data').textContent);
    return data;
  }
  function t(key, vars) {
    var s = cfg().t[key] || key;
    for (var k in vars || {}) s = s.split('{' + k + '}').join(vars[k]);
    return s;
  }
  function read(key, fallback) {
    try { var v = localStorage.getItem(key); return v ? JSON.parse(v) : fallback; } catch (e) { return fallback; }
  }
  function write(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function routes() {
    return window.routes || { cart_add_url: '/cart/add', cart_change_url: '/cart/change', cart_url: '/cart' };
  }
  // Dawn's fetchConfig (assets/global.js): a POST that asks for JSON of the given kind.
  function fetchConfig(type) {
    return { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/' + (type || 'json') } };
  }

  // --- header -------------------------------------------------------------------------------------
  function setCartCount(n) {
    var cc = document.getElementById('cart-count');
    if (cc) cc.textContent = String(n);
  }
  function refreshCartCount() {
    return fetch('/cart.js', { headers: { Accept: 'application/json' } })
      .then(function (r) { return r.json(); })
      .then(function (cart) { setCartCount(cart.item_count); })
      .catch(function () { /* the count stays as the server rendered it */ });
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

  // --- product form (Dawn's product-form.js, in short) ---------------------------------------------
  function submitProductForm(form) {
    var button = form.querySelector('[type="submit"]');
    var error = form.querySelector('.product-form__error-message');
    if (button.getAttribute('aria-disabled') === 'true') return;
    button.setAttribute('aria-disabled', 'true');
    if (error) error.hidden = true;
    var config = fetchConfig('javascript');
    config.headers['X-Requested-With'] = 'XMLHttpRequest';
    delete config.headers['Content-Type'];
    var body = new FormData(form);
    config.body = body;
    fetch(routes().cart_add_url, config)
      .then(function (r) { return r.json(); })
      .then(function (line) {
        if (line.status) { // Shopify's cart error: {status, message, description}
          if (error) { error.textContent = t('add_failed'); error.hidden = false; }
          return;
        }
        toast(t('added') + ': ' + line.product_title, { href: routes().cart_url, text: t('go_to_cart') });
        return refreshCartCount();
      })
      .catch(function () { if (error) { error.textContent = t('add_failed'); error.hidden = false; } })
      .then(function () { button.removeAttribute('aria-disabled'); });
  }

  // --- cart page (Dawn's cart.js, in short) --------------------------------------------------------
  function updateQuantity(line, quantity, focusSelector) {
    var config = fetchConfig();
    config.body = JSON.stringify({ line: line, quantity: quantity, sections_url: location.pathname });
    var items = document.querySelector('cart-items');
    return fetch(routes().cart_change_url, config)
      .then(function (r) { return r.json(); })
      .then(function (cart) {
        if (cart.status) throw new Error(cart.description);
        return fetch(routes().cart_url + '?section_id=main-cart-items')
          .then(function (r) { return r.text(); })
          .then(function (html) {
            var box = document.getElementById('main-cart-items');
            if (box) box.innerHTML = html;
            if (items) items.classList.toggle('is-empty', cart.item_count === 0);
            setCartCount(cart.item_count);
            // The pressed button was replaced: keep keyboard users where they were.
            var next = (focusSelector && document.querySelector(focusSelector)) ||
              document.querySelector('[data-remove]') || document.querySelector('.cart__empty-text');
            if (next) { if (!next.matches('button')) next.setAttribute('tabindex', '-1'); next.focus(); }
          });
      })
      .catch(function () { location.reload(); });
  }

  // --- wishlist -----------------------------------------------------------------------------------
  function favs() {
    var variants = cfg().variants;
    return read(KEYS.favs, []).filter(function (id) { return variants[id]; });
  }
  // The wishlist app's GA4 tagging: the recommended add_to_wishlist event, item_id = SKU.
  function pushWishlist(variant) {
    var v = cfg().variants[variant];
    window.dataLayer = window.dataLayer || [];
    window.dataLayer.push({ ecommerce: null });
    window.dataLayer.push({
      event: 'add_to_wishlist',
      ecommerce: {
        currency: v.currency, value: v.price,
        items: [{ item_id: v.sku, item_name: v.name, item_variant: variant, item_category: v.category,
          price: v.price, quantity: 1 }]
      }
    });
  }
  function toggleFav(variant) {
    var list = favs(), i = list.indexOf(variant);
    if (i >= 0) list.splice(i, 1); else list.unshift(variant);
    write(KEYS.favs, list);
    if (i < 0) pushWishlist(variant);
    paintFavs();
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
    var fc = document.getElementById('fav-count');
    if (fc) fc.textContent = String(list.length);
    var grid = document.getElementById('fav-grid');
    if (grid) {
      var cards = grid.querySelectorAll('[data-variant]'), shown = 0;
      for (var n = 0; n < cards.length; n++) {
        var on2 = list.indexOf(cards[n].getAttribute('data-variant')) >= 0;
        cards[n].hidden = !on2;
        if (on2) shown++;
      }
      var empty = document.getElementById('fav-empty');
      if (empty) empty.hidden = shown > 0;
    }
  }

  // --- events -------------------------------------------------------------------------------------
  document.addEventListener('submit', function (e) {
    var form = e.target;
    if (form.matches('form[data-type="add-to-cart-form"]')) {
      e.preventDefault();
      submitProductForm(form);
    }
  });
  document.addEventListener('click', function (e) {
    var b = e.target.closest && e.target.closest('button, a[data-lang]');
    if (!b) return;
    var id;
    if ((id = b.getAttribute('data-fav'))) {
      toggleFav(id);
    } else if (b.hasAttribute('data-line') && b.hasAttribute('data-quantity')) {
      var step = b.getAttribute('data-step');
      var line = Number(b.getAttribute('data-line'));
      b.disabled = true;
      updateQuantity(line, Number(b.getAttribute('data-quantity')),
        step ? '[data-line="' + line + '"][data-step="' + step + '"]' : null);
    }
  });

  // Deferred: runs once the page is parsed.
  paintFavs();
})();
