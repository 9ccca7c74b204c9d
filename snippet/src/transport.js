/* Events to the widget server: queued as JSON strings, sent in batches by one POST at a time, or by
 * a beacon when the page may be going away. Wire formats: docs/WIRE.md. */

import { assign, json, noop } from './page.js';
import { endpoint, shop, tracking } from './cartback.js';
import { TOKEN, readValue, writeValue } from './storage.js';

export const queue = [];
let timer;
let chain = Promise.resolve();

// Calls to the widget server give up after 4 s: a silent host never holds the page's resources.
export const request = (path, options, controller = new AbortController()) => (
  setTimeout(() => controller.abort(), 4e3), fetch(endpoint + path, assign({ signal: controller.signal }, options))
);

const body = (token = readValue(TOKEN)) =>
  '{"shop":' + json(shop) + (token ? ',"vid":' + json(token) : '') + ',"events":[' + queue.splice(0, 99) + ']}';

// Serialised at call time: a bad argument fails alone instead of with its batch, and later changes
// the page makes to the object do not leak in.
export const track = event => {
  if (tracking) {
    queue.push(json(event));
    timer = timer || setTimeout(flush, 60);
  }
};

// One POST at a time (a chain), so a first-time visitor comes back with exactly one token; each
// link sends what is queued when its turn comes. The string body goes as text/plain;charset=UTF-8,
// a simple request: no CORS preflight.
export const flush = () => {
  clearTimeout(timer);
  timer = 0;
  return chain = chain.then(async () => {
    if (queue[0]) {
      const answer = await (await request('/v1/events', { method: 'POST', keepalive: true, body: body() })).json();
      tracking && answer.vid && writeValue(TOKEN, answer.vid);
    }
  }).catch(noop);
};

// The page may be going away (pagehide, a click that navigates, a reload): only a beacon outlives
// it. A string body goes as text/plain;charset=UTF-8, like the fetch: no preflight either way.
export const beacon = () => {
  clearTimeout(timer);
  timer = 0;
  queue[0] && navigator.sendBeacon(endpoint + '/v1/events', body());
};
