// Builds dist/cartback.js (the core, what /snippet.js serves), dist/restore.js (the restore
// button's code) and dist/<name>.js for every src/adapters/<name>.js (what /snippet/<name>.js
// serves), each one minified ES2017 IIFE.
//
//   node build.mjs [OUTDIR]     (default: dist; tests build into a temporary folder and compare)
//
// The output is committed: the server and the wheel need no Node, and a change to the sources
// shows in review as a change to the bytes shops download.
import { build } from 'esbuild';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outdir = resolve(process.argv[2] || join(here, 'dist'));
const adapters = join(here, 'src', 'adapters');

// restore.js: the restore button's code, loaded by the core only with a block that has the button.
const entryPoints = { cartback: join(here, 'src', 'cartback.js'), restore: join(here, 'src', 'restore.js') };
for (const file of existsSync(adapters) ? readdirSync(adapters).sort() : []) {
  if (!file.endsWith('.js')) continue;
  const name = file.slice(0, -3);
  // The name becomes a URL path segment (/snippet/<name>.js) and must not replace the core.
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name) || name in entryPoints) {
    throw new Error(`src/adapters/${file}: adapter names are lowercase letters, digits, - and _, not "cartback" or "restore"`);
  }
  entryPoints[name] = join(adapters, file);
}

await build({
  entryPoints,
  outdir,
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2017',
  // No license comments or source maps: the served bytes are the product; src/ is the source.
  legalComments: 'none',
  logLevel: 'warning',
});
