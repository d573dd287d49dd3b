// Builds the optional native Arrow converter with node-gyp. It never fails the install: without
// the addon bundlebase uses its pure-JS converter (slower on strings, same results).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

if (process.env.BUNDLEBASE_SKIP_NATIVE) {
  console.log('bundlebase: BUNDLEBASE_SKIP_NATIVE set, using the pure-JS Arrow converter');
  process.exit(0);
}

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  ];
  return candidates.find((c) => c && existsSync(c));
}

const gyp = nodeGyp();
if (!gyp) {
  console.warn('bundlebase: node-gyp not found; using the pure-JS Arrow converter');
  process.exit(0);
}
// use the headers of the running Node when it has them: there may be no network to download them
const prefix = path.resolve(path.dirname(process.execPath), '..');
const nodedir = process.env.npm_config_nodedir
  ?? (existsSync(path.join(prefix, 'include/node/node_api.h')) ? prefix : undefined);
const args = [gyp, 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (result.status !== 0) {
  console.warn('bundlebase: native Arrow converter did not build; using the pure-JS converter');
}
process.exit(0);
