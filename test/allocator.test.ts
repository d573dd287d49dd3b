import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { allocatorSettings } from '../src/engine/allocator.js';
import { allocatorSetting, nativeAvailable } from '../src/engine/arrow/native.js';
import { tempDir } from './helpers.js';

const NATIVE = nativeAvailable() && !process.env.BUNDLEBASE_SKIP_NATIVE;

/**
 * DuckDB's allocator settings, as seen by a new process that imports bundlebase first (the
 * settings are read once, when DuckDB's library loads, so this test process cannot show them).
 */
async function settingsOfNewProcess(env: Record<string, string | undefined>): Promise<Record<string, unknown>> {
  const dir = await tempDir();
  const script = path.join(dir, 'child.mts');
  const src = (file: string) => JSON.stringify(pathToFileURL(path.resolve('src', file)).href);
  writeFileSync(script, `
    import ${src('index.ts')};
    import { allocatorSetting } from ${src('engine/arrow/native.ts')};
    const read = (name) => allocatorSetting(name);
    console.log(JSON.stringify({
      narenas: read('opt.narenas'), dirty: read('opt.dirty_decay_ms'), muzzy: read('opt.muzzy_decay_ms'),
      variable: process.env.DUCKDB_JE_MALLOC_CONF ?? null,
    }));
  `);
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env } });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}

describe("DuckDB's allocator", () => {
  it('is loaded with one arena per 4 CPUs, dirty pages returned within 250 ms and no lazy stage', { skip: NATIVE ? false : 'reading jemalloc settings needs the addon' }, async () => {
    const seen = await settingsOfNewProcess({ DUCKDB_JE_MALLOC_CONF: undefined });
    assert.deepEqual(
      { narenas: seen.narenas, dirty: seen.dirty, muzzy: seen.muzzy },
      { narenas: Math.max(1, Math.floor(os.availableParallelism() / 4)), dirty: 250, muzzy: 0 },
    );
    // the variable was only there while DuckDB loaded: processes started later do not inherit it
    assert.equal(seen.variable, null);
  });

  it("leaves a user's own DUCKDB_JE_MALLOC_CONF alone", { skip: NATIVE ? false : 'reading jemalloc settings needs the addon' }, async () => {
    const seen = await settingsOfNewProcess({ DUCKDB_JE_MALLOC_CONF: 'dirty_decay_ms:777' });
    assert.equal(seen.dirty, 777);
    assert.equal(seen.variable, 'dirty_decay_ms:777');
  });

  it('reads numeric settings and statistics by name, null for a name jemalloc does not know', { skip: NATIVE ? false : 'reading jemalloc settings needs the addon' }, () => {
    assert.ok((allocatorSetting('opt.narenas') ?? 0) >= 1);
    assert.ok((allocatorSetting('stats.resident') ?? 0) > 0, 'statistics are refreshed before they are read');
    assert.equal(allocatorSetting('opt.no_such_setting'), null);
  });

  it('settings scale with the machine', () => {
    assert.equal(allocatorSettings(1), 'narenas:1,dirty_decay_ms:250,muzzy_decay_ms:0');
    assert.equal(allocatorSettings(2), 'narenas:1,dirty_decay_ms:250,muzzy_decay_ms:0');
    assert.equal(allocatorSettings(16), 'narenas:4,dirty_decay_ms:250,muzzy_decay_ms:0');
  });
});
