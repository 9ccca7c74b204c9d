/* Product and id events, and the schema.org Products a page describes in JSON-LD. */

import { assign, loc } from './page.js';
import { track } from './transport.js';

// A product object or an id; numbers count as ids. '' means no usable id.
export const idOf = p => (p = p && typeof p == 'object' ? p.id : p) == undefined ? '' : '' + p;

export const validId = id => id && id.length < 65;

export const trackProduct = (type, product, extra, id) => {
  id = idOf(product);
  validId(id) && track(assign(
    { type, product: typeof product == 'object' ? assign({}, product, { id }) : id }, extra));
};

export const trackId = (type, product, id) => {
  id = idOf(product);
  validId(id) && track({ type, id });
};

// JSON.stringify leaves out what is undefined: a field the page does not state is not sent.
let unstated;

// schema.org lets most values be a string, an object (ImageObject, Thing) or an array of them.
const text = v => (
  v = [].concat(v)[0], v = v && (v.url || v.contentUrl || v.name || v), typeof v == 'string' ? v : unstated
);

const absolute = url => url && new URL(url, loc.href).href;

// A schema.org Product, also inside @graph or an array.
export const readJsonLd = node => {
  // Strings and numbers fall through harmlessly; arrays have .map, plain objects do not.
  if (node) if (node.map) node.forEach(readJsonLd); else {
    readJsonLd(node['@graph']);
    if (/\bProduct\b/.test(node['@type'])) {
      const offer = [].concat(node.offers)[0] || {}, availability = offer.availability,
        price = parseFloat(offer.price || offer.lowPrice);
      trackProduct('view', {
        id: node.sku || node.productID || node['@id'],
        name: text(node.name),
        url: absolute(text(node.url) || loc.href),
        image: absolute(text(node.image)),
        category: text(node.category),
        price: price >= 0 ? price : unstated,
        currency: text(offer.priceCurrency),
        in_stock: availability ? !/Out|Disc/.test(availability) : unstated,
      });
    }
  }
};
