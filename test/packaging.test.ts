import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');

describe('packaging', () => {
  it('npm pack ships the sources every source map points to', async () => {
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root });
    const files = new Set((JSON.parse(stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path));
    const maps = [...files].filter((f) => f.endsWith('.js.map'));
    assert.ok(maps.length > 20, 'source maps are shipped');
    for (const map of maps) {
      const { sources } = JSON.parse(await readFile(path.join(root, map), 'utf8')) as { sources: string[] };
      for (const source of sources) assert.ok(files.has(path.posix.join(path.posix.dirname(map), source)), `${map} → ${source} is not in the package`);
    }
  });

  it("npm test's pre-step installs nothing outside CI, and says how to get the skipped tests", async () => {
    // a PATH with a shell and an apt-get that records being called, but no psql
    const bin = await tempDir();
    const called = path.join(bin, 'apt-get-called');
    await symlink('/bin/sh', path.join(bin, 'sh'));
    await writeFile(path.join(bin, 'apt-get'), `#!/bin/sh\necho "$@" >> '${called}'\n`);
    await chmod(path.join(bin, 'apt-get'), 0o755);
    const env: NodeJS.ProcessEnv = { PATH: bin, HOME: bin };
    const { stderr } = await run(process.execPath, [path.join(root, 'scripts/ensure-test-tools.mjs')], { env });
    assert.match(stderr, /psql is not installed.*skipped.*postgresql-client/);
    await assert.rejects(readFile(called, 'utf8'), /ENOENT/, 'apt-get was not run');
  });
});
