/* The page's globals, and the one rule everything here follows: nothing throws into the shop's page.
 *
 * Globals used often are read once into module constants, which the minifier gives one-letter names
 * (it never renames globals). */

export const doc = document;
export const loc = location;
export const assign = Object.assign;
export const json = JSON.stringify;
export const encode = encodeURIComponent;

export const noop = () => {};

// Every callback the page or the browser calls goes through this: an error inside stays inside.
export const quiet = fn => (a, b, c) => {
  try {
    return fn(a, b, c);
  } catch (e) {}
};

// The block's stylesheet, and scripts: the platform adapter, the restore button's code (a script
// added by script runs async without being told).
export const addToHead = (tag, props) => doc.head.appendChild(assign(doc.createElement(tag), props));

// A request that cannot hang: a silent host costs the page nothing after `ms` (the widget's own
// calls: transport.js request()).
export const timedFetch = (url, options, ms, controller = new AbortController()) => (
  setTimeout(() => controller.abort(), ms), fetch(url, assign({ signal: controller.signal }, options))
);
