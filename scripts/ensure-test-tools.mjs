// Installs what the test suite's real clients need when it is missing: psql (Debian's
// postgresql-client). Runs before `npm test`; does nothing when psql is already there.
import { execFileSync, spawnSync } from 'node:child_process';

const has = (command) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

if (!has('psql')) {
  const root = process.getuid?.() === 0;
  if (root && has('apt-get')) {
    console.log('Installing postgresql-client for the PostgreSQL wire tests…');
    try {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
      execFileSync('apt-get', ['install', '-y', '-qq', 'postgresql-client'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } catch {
      console.warn('Could not install postgresql-client; the psql tests will be skipped');
    }
  } else {
    console.warn('psql is not installed (and cannot be installed here); the psql tests will be skipped');
  }
}
