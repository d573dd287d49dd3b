import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
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
    // its fresh temporary directory inside the scratch folder, removed with it
    const { stdout } = await run(process.execPath, ['quickstart.mjs'], { cwd: scratch, env: { ...process.env, TMPDIR: scratch } });
    assert.match(stdout, /first_name: Utf8/);
    assert.match(stdout, /\b3\n/, 'three adults');
    assert.match(stdout, /first_name: 'Dee'/);
    assert.match(stdout, /[0-9a-f]{12} Cleaned customer data/);
  });

  it('the command-line block runs as written from a folder holding the CSV', async () => {
    const scratch = await tempDir();
    // the installed command: `bundlebase` on the PATH
    const bin = path.join(scratch, 'bin');
    await mkdir(bin);
    await writeFile(path.join(bin, 'bundlebase'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(root, 'dist', 'cli', 'main.js')}" "$@"\n`, { mode: 0o755 });
    const work = path.join(scratch, 'work');
    await mkdir(work);
    await writeFile(path.join(work, 'sales-2025.csv'), 'region,amount,internal_note\nnorth,150,x\nsouth,50,y\nnorth,300,z\n');
    // every line but the interactive REPL, one after the other, as a user types them
    const lines = (await readmeBlock('## Command line', 'sh')).split('\n').filter((l) => l.trim() !== '' && !l.startsWith('bundlebase repl'));
    const env = { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, BUNDLEBASE_AUTHOR: 'readme' };
    const outputs: string[] = [];
    for (const line of lines) {
      const { stdout } = await run('/bin/sh', ['-c', line], { cwd: work, env }).catch((err: { stderr?: string }) => {
        throw new Error(`README line failed: ${line}\n${err.stderr ?? String(err)}`);
      });
      outputs.push(stdout);
    }
    assert.equal(outputs[lines.findIndex((l) => l.startsWith('bundlebase count'))]!.trim(), '2', 'two sales over 100');
    assert.match(await readFile(path.join(work, 'by-region.csv'), 'utf8'), /north,450/);
    await rm(path.join(work, 'sales-2025.csv'));
    const { stdout } = await run('/bin/sh', ['-c', 'bundlebase count sales'], { cwd: work, env });
    assert.equal(stdout.trim(), '2', 'the bundle holds its data: the CSV is no longer needed');
  });
});

