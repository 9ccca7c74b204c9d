/* A stand-in for what PrestaShop's theme.js (themes/_core/js/prestashop.js, cart.js) gives a page:
 * `prestashop` made an event emitter, the product page's add-to-cart posted by jQuery with
 * add=1&action=update, and the answer's cart announced as `updateCart`. */
(function ($, prestashop) {
  var handlers = {};
  prestashop.on = function (name, f) { (handlers[name] = handlers[name] || []).push(f); };
  prestashop.emit = function (name, event) { (handlers[name] || []).forEach(function (f) { f(event); }); };
  prestashop.on('updateCart', function (event) { prestashop.cart = event.reason.cart; });
  $(function () {
    $('body').on('click', '[data-button-action="add-to-cart"]', function (event) {
      event.preventDefault();
      var $form = $(event.target).closest('form');
      $.post($form.attr('action'), $form.serialize() + '&add=1&action=update', null, 'json').then(function (resp) {
        prestashop.emit('updateCart', {
          reason: { idProduct: resp.id_product, idProductAttribute: resp.id_product_attribute,
            idCustomization: resp.id_customization, linkAction: 'add-to-cart', cart: resp.cart },
          resp: resp
        });
      });
    });
  });
})(jQuery, window.prestashop);
