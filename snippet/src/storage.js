/* The visitor token and the opt-out marker: localStorage first; a browser that refuses it (throws,
 * or drops writes) gets a first-party cookie.
 *
 * `suffix` is TOKEN for the visitor token (key cartback:SHOP, cookie cartback_SHOP) or OPT_OUT for
 * the marker. '.' cannot occur in a shop id, so the marker's key never collides with another
 * shop's token. */

import { doc } from './page.js';
import { shop } from './cartback.js';

export const TOKEN = '';
export const OPT_OUT = '.optout';

// Tokens are URL-safe (base64url and dots): no cookie escaping needed. An empty value writes an
// expired cookie: that deletes one and creates none.
const writeCookie = (suffix, value) => {
  doc.cookie = 'cartback_' + shop + suffix + '=' + value + ';path=/;SameSite=Lax;max-age=' + (value ? 31536e3 : 0);
};

export const readValue = (suffix, value) => {
  try {
    value = localStorage.getItem('cartback:' + shop + suffix);
  } catch (e) {}
  return value || (value = ('; ' + doc.cookie).split('; cartback_' + shop + suffix + '=')[1]) && value.split(';')[0];
};

export const writeValue = (suffix, value) => {
  try {
    localStorage.setItem('cartback:' + shop + suffix, value);
  } catch (e) {
    writeCookie(suffix, value);
  }
};

export const removeValue = suffix => {
  try {
    localStorage.removeItem('cartback:' + shop + suffix);
  } catch (e) {}
  writeCookie(suffix, '');
};
