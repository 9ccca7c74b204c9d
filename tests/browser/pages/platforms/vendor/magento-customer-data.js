/* A stand-in for Magento_Customer/js/customer-data.js as far as a page script can see it: private
 * sections loaded by jQuery from /customer/section/load and kept in
 * localStorage['mage-cache-storage']; sections a POST invalidated are loaded again. Plus what
 * Magento_PageCache/js/form-key-provider does: the form_key cookie. */
document.cookie = 'form_key=fk-1; path=/';
window.BASE_URL = location.origin + '/';
window.customerData = {
  storage: function () {
    try { return JSON.parse(localStorage.getItem('mage-cache-storage')) || {}; } catch (e) { return {}; }
  },
  reload: function (sections) {
    return jQuery.getJSON(BASE_URL + 'customer/section/load/', { sections: sections.join(','), force_new_section_timestamp: true })
      .done(function (data) {
        var all = customerData.storage();
        jQuery.extend(all, data);
        localStorage.setItem('mage-cache-storage', JSON.stringify(all));
        jQuery(document).trigger('customer-data-reloaded', [sections]);
      });
  }
};
