// Runs before `npm test`. The PostgreSQL wire tests also drive the real `psql` client (Debian's
// postgresql-client). On CI (CI set, running as root) it is installed when missing; anywhere else
// nothing is installed behind the user's back: the psql tests are skipped, and this says how to
// get them. It also rebuilds the native addon when native/ changed since it was built (a pull or
// rebase after `npm install` would otherwise test a stale addon).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const addon = 'build/Release/bundlebase_arrow.node';
if (!process.env.BUNDLEBASE_SKIP_NATIVE && existsSync(addon)) {
  const built = statSync(addon).mtimeMs;
  const sources = ['binding.gyp', ...readdirSync('native').map((f) => path.join('native', f))];
  if (sources.some((f) => statSync(f).mtimeMs > built)) {
    console.log('native/ changed since the addon was built: rebuilding it');
    execFileSync(process.execPath, ['scripts/build-native.mjs'], { stdio: 'inherit' });
  }
}

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

if (!has('psql')) {
  const canInstall = Boolean(process.env.CI) && process.getuid?.() === 0 && has('apt-get');
  if (canInstall) {
    console.log('CI: installing postgresql-client (psql) for the PostgreSQL wire tests…');
    try {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
      execFileSync('apt-get', ['install', '-y', '-qq', 'postgresql-client'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } catch {
      console.warn('Could not install postgresql-client; the psql tests will be skipped');
    }
  } else {
    console.warn('psql is not installed: the tests that drive psql will be skipped (install postgresql-client to run them; on CI it is installed automatically)');
  }
}
