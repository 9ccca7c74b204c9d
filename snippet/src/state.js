/* What the install tag said, and whether this visitor may be tracked. Set once by the entry
 * (cartback.js) before anything else runs; `tracking` changes with consent. */

export let shop;
export let endpoint;
export let locale;
export let tracking;

export const install = (id, url, lang) => {
  shop = id;
  endpoint = url;
  locale = lang;
};

export const setTracking = on => {
  tracking = on;
};
