import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');

/** The first ``` block of `lang` after the heading `heading` in README.md. */
async function readmeBlock(heading: string, lang: string): Promise<string> {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n${heading}\n`));
  const match = section.match(new RegExp('```' + lang + '\\n([\\s\\S]*?)```'));
  assert.ok(match, `README has a ${lang} block under ${heading}`);
  return match[1]!;
}

describe('README', () => {
  it('the Quick start runs as written from a scratch folder where bundlebase is installed', async () => {
    const scratch = await tempDir();
    // what `npm install /path/to/clone` makes: node_modules/bundlebase → the clone
    await mkdir(path.join(scratch, 'node_modules'));
    await symlink(root, path.join(scratch, 'node_modules', 'bundlebase'), 'dir');
    await writeFile(path.join(scratch, 'quickstart.mjs'), await readmeBlock('## Quick start', 'js'));
    const { stdout } = await run(process.execPath, ['quickstart.mjs'], { cwd: scratch });
    assert.match(stdout, /first_name: Utf8/);
    assert.match(stdout, /\b3\n/, 'three adults');
    assert.match(stdout, /first_name: 'Dee'/);
    assert.match(stdout, /[0-9a-f]{12} Cleaned customer data/);
  });
});
