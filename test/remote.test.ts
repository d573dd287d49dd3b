// Bundles on object storage and HTTP, against real servers started here on 127.0.0.1: Azure through
// Azurite (Microsoft's emulator, a child process), S3 through s3rver (in this process), HTTP through
// a plain node:http file server.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import { Readable } from 'node:stream';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import S3rver from 's3rver';
import YAML from 'yaml';
import { create, open, type ConfigInput } from '../src/index.js';
import { cached } from '../src/storage/cache.js';
import { expectError, peopleSql, tempDir, within, writeFixture } from './helpers.js';

const execFileAsync = promisify(execFile);

// Azurite's well-known development account (public, documented by Microsoft)
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const azuriteConnection = (port: number, key = AZURITE_KEY) =>
  `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startAzurite(): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const location = await tempDir('bundlebase-azurite-');
  const bin = path.join(path.dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist/src/blob/main.js');
  const args = [bin, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', location, '--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await within(
    new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d) => {
        output += d;
        if (output.includes('successfully listens')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`azurite exited ${code}: ${output}`)));
    }),
    60_000,
    () => `Azurite starting: ${output}`,
  );
  return { port, child };
}

/** GET requests served, by path. */
const downloads = new Map<string, number>();

/** Serves `root` read-only, with HTML directory listings (like nginx autoindex) and ETags. */
function fileServer(root: string): http.Server {
  return http.createServer(async (req, res) => {
    const pathname = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    if (req.method === 'GET') downloads.set(pathname, (downloads.get(pathname) ?? 0) + 1);
    if (pathname === '/slow') return void slowly(res);
    const file = path.join(root, pathname);
    const found = await stat(file).catch(() => undefined);
    if (!found || !file.startsWith(root)) return void res.writeHead(404).end();
    if (found.isDirectory()) {
      const names = await readdir(file);
      res.writeHead(200, { 'content-type': 'text/html' }).end(names.map((n) => `<a href="${encodeURIComponent(n)}">${n}</a>`).join('\n'));
      return;
    }
    res.writeHead(200, { 'content-length': found.size, etag: `"${found.size}-${found.mtimeMs}"` });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).pipe(res);
  });
}

/** 20 chunks of 1 KB, 50 ms apart: a download long enough for others to arrive meanwhile. */
async function slowly(res: http.ServerResponse): Promise<void> {
  res.writeHead(200, { 'content-length': 20 * 1024 });
  for (let i = 0; i < 20; i++) {
    res.write(Buffer.alloc(1024, 65 + i));
    await new Promise((r) => setTimeout(r, 50));
  }
  res.end();
}

let dir: string;
let people: string;
let azurite: { port: number; child: ChildProcess };
let s3: S3rver;
let s3Port: number;
let web: http.Server;
let webPort: number;
let azureConfig: ConfigInput;
let s3Config: ConfigInput;

before(async () => {
  dir = await tempDir();
  process.env.BUNDLEBASE_CACHE = await tempDir('bundlebase-cache-');
  people = await writeFixture(path.join(dir, 'people.parquet'), peopleSql(100));
  azurite = await startAzurite();
  azureConfig = { 'azure.connection_string': azuriteConnection(azurite.port) };
  const container = BlobServiceClient.fromConnectionString(azuriteConnection(azurite.port)).getContainerClient('bundles');
  await container.create();
  s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: await tempDir('bundlebase-s3rver-'), configureBuckets: [{ name: 'bundles', configs: [] }] });
  s3Port = (await s3.run()).port;
  s3Config = {
    's3.endpoint': `http://127.0.0.1:${s3Port}`,
    's3.allow_http': 'true',
    's3.access_key_id': 'S3RVER',
    's3.secret_access_key': 'S3RVER',
  };
  web = fileServer(dir);
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  webPort = (web.address() as net.AddressInfo).port;
});

after(async () => {
  azurite?.child.kill();
  await s3?.close();
  await new Promise((resolve) => web?.close(resolve));
});

/** create → commit → open → extend → commit → open, with a view, at `url`. */
async function roundTrip(url: string, config: ConfigInput): Promise<void> {
  const b = await create(url, { config }).attach(people);
  await b.createView('young', await b.select('SELECT id FROM bundle WHERE age < $1', [10]));
  await b.commit('people');
  await b.close();
  const opened = await open(url, { config });
  assert.equal(opened.url, url);
  assert.equal(await opened.numRows(), 100);
  assert.equal(await (await opened.view('young')).numRows(), 20, 'the view reads its parent in the bucket');
  const e = await opened.extend().filter('age >= 50');
  await e.commit('older only');
  await Promise.all([opened.close(), e.close()]);
  const again = await open(url, { config });
  assert.deepEqual(again.history().map((c) => c.message), ['people', 'older only']);
  assert.equal(await again.numRows(), 40, 'ids 50..89 (age = id % 90)');
  await again.close();
}

describe('S3 (s3rver)', () => {
  it('create → commit → open → extend → commit, with a view', async () => {
    await roundTrip('s3://bundles/people', s3Config);
  });

  it('a local bundle extends one in a bucket, finding it through its stored config; and the reverse', async () => {
    await (await create('s3://bundles/base', { config: s3Config }).attach(people)).commit('base');
    process.env.TEST_S3_SECRET = 'S3RVER';
    const local = path.join(dir, 'local-on-s3');
    const e = await (await open('s3://bundles/base', { config: s3Config })).extend(local);
    await e.setConfig('s3.endpoint', `http://127.0.0.1:${s3Port}`).setConfig('s3.allow_http', 'true');
    await e.setConfig('s3.access_key_id', 'S3RVER').setConfig('s3.secret_access_key', 'env:TEST_S3_SECRET').filter('id < 10');
    await e.commit('local on top');
    await e.close();
    const reopened = await open(local);
    assert.equal(await reopened.numRows(), 10);
    assert.deepEqual(reopened.history().map((c) => c.message), ['base', 'local on top']);
    // and a bundle in the bucket on top of the local one
    const up = await reopened.extend('s3://bundles/on-local');
    await up.filter('id < 5').commit('back in the bucket');
    await Promise.all([reopened.close(), up.close()]);
    const top = await open('s3://bundles/on-local', { config: s3Config });
    assert.equal(await top.numRows(), 5);
    await top.close();
  });

  it('two writers on the same version: the second gets CONFLICT and writes nothing', async () => {
    const url = 's3://bundles/two-writers';
    await (await create(url, { config: s3Config }).attach(people)).commit('base');
    const [a, b] = await Promise.all([0, 1].map(async () => (await open(url, { config: s3Config })).extend()));
    await a!.filter('id < 10').commit('a');
    await b!.filter('id < 20');
    await expectError(() => b!.commit('b'), 'CONFLICT', /s3:\/\/bundles\/two-writers.*version 00002/);
    const after = await open(url, { config: s3Config });
    assert.deepEqual(after.history().map((c) => c.message), ['base', 'a']);
    await Promise.all([a!.close(), b!.close(), after.close()]);
  });

  it('a secret is never stored in clear text: refused, nothing recorded', async () => {
    const b = await create(path.join(dir, 'secret'));
    await expectError(() => b.setConfig('s3.secret_access_key', 'hunter2'), 'INVALID_ARGUMENT', /s3\.secret_access_key.*secret.*env:NAME/);
    await expectError(() => b.setConfig('azure.connection_string', 'AccountKey=x'), 'INVALID_ARGUMENT', /azure\.connection_string/);
    await expectError(() => b.setConfig('s3.endpiont', 'x'), 'INVALID_ARGUMENT', /Unknown config key 's3\.endpiont'.*s3\.endpoint/);
    assert.equal(b.status().totalOperations, 0);
    await b.close();
  });

  it('bad locations fail fast with a code and the url; the bundle is untouched', async () => {
    await expectError(() => open('foo://bucket/x'), 'INVALID_ARGUMENT', /foo:\/\/bucket\/x/);
    await expectError(() => open('s3:///x', { config: s3Config }), 'INVALID_ARGUMENT', /s3:\/\/\/x.*bucket/);
    await expectError(() => open('s3://no-such-bucket/x', { config: s3Config }), 'NOT_FOUND', /s3:\/\/no-such-bucket\/x/);
    await expectError(() => open('s3://bundles/nothing-here', { config: s3Config }), 'NOT_FOUND', /s3:\/\/bundles\/nothing-here/);
    // s3rver checks the access key id but not SigV4 signatures, so the wrong credential is the id
    const wrong = { ...s3Config, 's3.access_key_id': 'WRONG' };
    await expectError(() => open('s3://bundles/people', { config: wrong }), 'PERMISSION_DENIED', /s3:\/\/bundles\/people/);
    const closed = { ...s3Config, 's3.endpoint': `http://127.0.0.1:${await freePort()}` };
    await within(expectError(() => open('s3://bundles/people', { config: closed }), 'IO_ERROR', /reach.*s3:\/\/bundles\/people/), 20_000, 'an unreachable endpoint fails fast');
    // no credentials anywhere: the SDK's provider chain finds none (profiles and instance metadata kept out)
    const hidden = { AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'none'), AWS_CONFIG_FILE: path.join(dir, 'none'), AWS_EC2_METADATA_DISABLED: 'true', AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined, AWS_PROFILE: undefined };
    const saved = Object.fromEntries(Object.keys(hidden).map((k) => [k, process.env[k]]));
    const setEnv = (values: Record<string, string | undefined>) => {
      for (const [k, v] of Object.entries(values)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    };
    setEnv(hidden);
    try {
      const anonymous = { 's3.endpoint': s3Config['s3.endpoint']!, 's3.allow_http': 'true' };
      await within(expectError(() => open('s3://bundles/people', { config: anonymous }), 'PERMISSION_DENIED', /No credentials for s3:\/\/bundles\/people/), 20_000, 'no credentials');
    } finally {
      setEnv(saved);
    }
    await expectError(() => open('s3://bundles/people', { config: { ...s3Config, 's3.allow_http': 'false' } }), 'INVALID_ARGUMENT', /allow_http/);
    // a commit that cannot reach the bucket writes nothing, there or in the bundle it extends
    const local = path.join(dir, 'unreachable-parent');
    await (await create(local).attach(people)).commit('local');
    const e = await (await open(local, { config: closed })).extend('s3://bundles/unreachable').filter('id > 1');
    await within(expectError(() => e.commit('unreachable'), 'IO_ERROR', /reach.*s3:\/\/bundles\/unreachable/), 20_000, 'commit to an unreachable bucket');
    await e.close();
    await expectError(() => open('s3://bundles/unreachable', { config: s3Config }), 'NOT_FOUND', /s3:\/\/bundles\/unreachable/);
    // pushing to a missing bucket, with a wrong key or to a closed port: fast, nothing written anywhere
    const source = await open(local, { config: s3Config });
    for (const [config, target, code] of [
      [s3Config, 's3://no-such-bucket/pushed', 'NOT_FOUND'],
      [wrong, 's3://bundles/push-refused', 'PERMISSION_DENIED'],
      [closed, 's3://bundles/push-unreachable', 'IO_ERROR'],
    ] as const) {
      await within(expectError(() => source.push(target, { config }), code, new RegExp(target.replace(/[/.]/g, '\\$&'))), 20_000, `push to ${target}`);
    }
    await expectError(() => open('s3://bundles/push-refused', { config: s3Config }), 'NOT_FOUND', /push-refused/);
    await source.close();
    const untouched = await open(local);
    assert.deepEqual(untouched.history().map((c) => c.message), ['local']);
    await untouched.close();
    // a source of a kind bundlebase cannot read, or on a closed port, is refused before anything is recorded
    const b = await create();
    await expectError(() => b.attach('ftp://example.org/x.csv'), 'INVALID_ARGUMENT', /Unsupported source 'ftp:\/\/example\.org\/x\.csv'/);
    const closedWeb = `http://127.0.0.1:${await freePort()}/x.csv`;
    await within(expectError(() => b.attach(closedWeb), 'IO_ERROR', new RegExp(`reach.*${closedWeb.replace(/[/.]/g, '\\$&')}.*ECONNREFUSED`)), 20_000, 'a closed web port');
    assert.equal(b.status().totalOperations, 0);
    await b.close();
    const denied = await create(undefined, { config: wrong });
    await expectError(() => denied.attach('s3://bundles/x.csv'), 'PERMISSION_DENIED', /s3:\/\/bundles\/x\.csv.*\(403\)/);
    await denied.close();
  });
});

describe('Azure (Azurite)', () => {
  it('create → commit → open → extend → commit, with a view (azure:// and az://)', async () => {
    await roundTrip('azure://bundles/people', azureConfig);
    const viaAz = await open('az://bundles/people', { config: azureConfig });
    assert.equal(viaAz.url, 'azure://bundles/people');
    assert.equal(viaAz.history().length, 2);
    await viaAz.close();
    // the credentials given to create()/open() are used, never written into the bundle
    const container = BlobServiceClient.fromConnectionString(azuriteConnection(azurite.port)).getContainerClient('bundles');
    let files = 0;
    for await (const blob of container.listBlobsFlat({ prefix: 'people/' })) {
      files++;
      assert.ok(!(await container.getBlobClient(blob.name).downloadToBuffer()).includes(AZURITE_KEY), `${blob.name} holds no secret`);
    }
    assert.ok(files >= 4, 'the manifests of the bundle and its view');
  });

  // the race runs here only: s3rver ignores If-None-Match on PutObject (both writers would "win"),
  // while Azurite honours ifNoneMatch: '*' as Azure does (and as AWS S3 and MinIO do for S3)
  it('4 processes × 10 commits racing on one bundle: each lands or gets CONFLICT, no gap, every manifest parses', async () => {
    const url = 'azure://bundles/race';
    await (await create(url, { config: azureConfig }).attach(people)).commit('base');
    const env = { ...process.env, BB_AZURE_CONNECTION_STRING: azuriteConnection(azurite.port) };
    const runs = ['w0', 'w1', 'w2', 'w3'].map((tag) => runCommitter(url, 10, tag, env));
    const results = await Promise.all(runs);
    const landed = results.flatMap((r) => r.stdout.split('\n').filter(Boolean));
    const conflicts = results.flatMap((r) => r.stderr.split('\n').filter((l) => l.startsWith('conflict')));
    assert.equal(landed.length, 40);
    const bundle = await open(url, { config: azureConfig });
    const history = bundle.history();
    assert.equal(history.length, 41, 'every commit landed once (a CONFLICT retried writes nothing)');
    assert.deepEqual(history.slice(1).map((c) => c.message).sort(), [...landed].sort());
    const container = BlobServiceClient.fromConnectionString(azuriteConnection(azurite.port)).getContainerClient('bundles');
    const numbers: number[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: 'race/_bundlebase/' })) {
      const name = blob.name.slice('race/_bundlebase/'.length);
      assert.doesNotMatch(name, /^\.claim-/, 'no claim is left behind');
      const text = (await container.getBlobClient(blob.name).downloadToBuffer()).toString('utf8');
      assert.ok(YAML.parse(text), `${name} parses`);
      if (name !== '00000000000000000.yaml') numbers.push(Number(name.slice(0, 5)));
    }
    assert.deepEqual(numbers.sort((a, b) => a - b), Array.from({ length: 41 }, (_, i) => i + 1), 'no gap, no duplicate number');
    console.log(`# ${conflicts.length} CONFLICTs among 4 racing writers`);
    await bundle.close();
  });

  it('wrong credentials, a missing container and a closed port fail fast naming the url', async () => {
    const wrongKey = Buffer.from('not the key').toString('base64');
    await expectError(() => open('azure://bundles/people', { config: { 'azure.connection_string': azuriteConnection(azurite.port, wrongKey) } }), 'PERMISSION_DENIED', /azure:\/\/bundles\/people/);
    await expectError(() => open('azure://missing-container/x', { config: azureConfig }), 'NOT_FOUND', /azure:\/\/missing-container\/x/);
    const closed = { 'azure.connection_string': azuriteConnection(await freePort()) };
    await within(expectError(() => open('azure://bundles/people', { config: closed }), 'IO_ERROR', /azure:\/\/bundles\/people/), 20_000, 'an unreachable endpoint fails fast');
    await expectError(() => open('azure://bundles/people', { config: {} }), 'INVALID_ARGUMENT', /No Azure account for azure:\/\/bundles\/people/);
  });
});

describe('push and pull', () => {
  /** A local chain: a base with a view, and an extension on top; returns the extension's directory. */
  async function localChain(name: string): Promise<string> {
    const base = path.join(dir, `${name}-base`);
    const b = await create(base).attach(people);
    await b.createView('young', await b.select('SELECT id FROM bundle WHERE age < $1', [10]));
    await b.commit('base');
    await b.close();
    const top = path.join(dir, `${name}-top`);
    const e = await (await open(base)).extend(top).filter('id < 60');
    await e.commit('top');
    await e.close();
    return top;
  }

  for (const [kind, target, config] of [
    ['S3', 's3://bundles/pushed', () => s3Config],
    ['Azure', 'azure://bundles/pushed', () => azureConfig],
  ] as const) {
    it(`pushes a local chain to ${kind} (every version, the view) and sends only what is new; pulls it back`, async () => {
      const top = await localChain(`push-${kind}`);
      const local = await open(top, { config: config() });
      const first = await local.push(target);
      assert.equal(first.url, target);
      assert.equal(first.commitsCopied, 2);
      assert.ok(first.filesCopied >= 2, 'the view’s manifests');
      const pushed = await open(target, { config: config() });
      assert.deepEqual(pushed.history().map((c) => c.version), local.history().map((c) => c.version), 'the same versions, one bundle standing alone');
      assert.equal(await pushed.numRows(), 60);
      // pushed as one bundle, the base's view follows the bundle it now lives in (ids < 60)
      assert.equal(await (await pushed.view('young')).numRows(), 10);
      assert.equal(await (await open(target, { config: config(), version: 1 })).numRows(), 100);
      await pushed.close();
      const e = await local.extend().filter('id < 20');
      await e.commit('fewer');
      const again = await (await open(top, { config: config() })).push(target);
      assert.deepEqual([again.commitsCopied, again.filesCopied], [1, 0], 'only the new commit travels');
      // pull back into a fresh directory
      const pulledDir = path.join(dir, `pulled-${kind}`);
      const pulled = await (await open(target, { config: config() })).push(pulledDir);
      assert.equal(pulled.commitsCopied, 3);
      const copy = await open(pulledDir);
      assert.equal(await copy.numRows(), 20);
      assert.deepEqual(copy.history().map((c) => c.message), ['base', 'top', 'fewer']);
      await Promise.all([local.close(), e.close(), copy.close()]);
    });
  }

  it('a source inside the bundle directory travels with it and is read beside the bundle in the bucket or on the web', async () => {
    const bundleDir = path.join(dir, 'with-inner-source');
    await mkdir(bundleDir, { recursive: true });
    await writeFixture(path.join(bundleDir, 'inner.csv'), peopleSql(30));
    const b = await create(bundleDir).attach('inner.csv');
    await b.commit('inner source');
    await b.close();
    await (await open(bundleDir)).push('s3://bundles/with-inner-source', { config: s3Config });
    for (const url of ['s3://bundles/with-inner-source', `http://127.0.0.1:${webPort}/with-inner-source`]) {
      const r = await open(url, { config: s3Config });
      assert.equal((await r.toObjects()).length, 30, url);
      await r.close();
    }
  });

  it('a large file goes up in parts (S3 multipart, Azure blocks) by push and by commit, with progress, and reads back whole', async () => {
    const bundleDir = path.join(dir, 'large');
    await mkdir(bundleDir, { recursive: true });
    // ~10 MB: more than one 8 MB part
    await writeFixture(path.join(bundleDir, 'large.csv'), "SELECT i AS id, repeat('x', 90) AS pad FROM range(100000) t(i)");
    await (await create(bundleDir).attach('large.csv')).commit('large');
    const multipart: string[] = [];
    const onEvent = (e: { Records: { eventName: string; s3: { object: { key: string } } }[] }) => {
      for (const r of e.Records) if (r.eventName === 'ObjectCreated:Post') multipart.push(r.s3.object.key);
    };
    s3.on('event', onEvent);
    const progress: number[] = [];
    const local = await open(bundleDir);
    await local.push('s3://bundles/large', { config: s3Config, onProgress: (p) => progress.push(p.percentage) });
    await local.push('azure://bundles/large', { config: azureConfig });
    await local.close();
    // a commit to a bucket uploads the data it stores the same way (a copy keeps its size)
    await (await create('s3://bundles/large-stored', { config: s3Config }).attach(path.join(bundleDir, 'large.csv'), { saveAs: 'copy' })).commit('stored large');
    s3.off('event', onEvent);
    assert.equal(multipart.length, 2, `only the large files went up as multipart uploads: ${multipart.join(', ')}`);
    assert.equal(multipart[0], 'large/large.csv');
    assert.match(multipart[1]!, /^large-stored\/[0-9a-f]{2}\/[0-9a-f]{14}\.block\.data\.csv$/);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b), 'progress only grows');
    assert.equal(progress.at(-1), 100);
    const container = BlobServiceClient.fromConnectionString(azuriteConnection(azurite.port)).getContainerClient('bundles');
    const blocks = await container.getBlockBlobClient('large/large.csv').getBlockList('committed');
    assert.equal(blocks.committedBlocks?.length, 2, 'two blocks of at most 8 MB');
    for (const [url, config] of [['s3://bundles/large', s3Config], ['azure://bundles/large', azureConfig]] as const) {
      const r = await open(url, { config });
      assert.equal(await r.numRows(), 100_000, url);
      await r.close();
    }
  });

  it('index files travel: built for a bundle in a bucket, or pushed with a local one, lookups read them from the cache', async () => {
    const csv = await writeFixture(path.join(dir, 'indexed.csv'), peopleSql(200));
    // index files are built for sources read as CSV or JSON records: kept by reference here
    const b = await create('azure://bundles/indexed', { config: azureConfig }).attach(csv, { saveAs: 'ref' });
    await b.createIndex('id');
    await b.commit('indexed in a bucket');
    await b.close();
    const local = path.join(dir, 'indexed-local');
    await (await create(local).attach(csv, { saveAs: 'ref' }).createIndex('id')).commit('indexed locally');
    await (await open(local)).push('azure://bundles/indexed-pushed', { config: azureConfig });
    const container = BlobServiceClient.fromConnectionString(azuriteConnection(azurite.port)).getContainerClient('bundles');
    for (const prefix of ['indexed/', 'indexed-pushed/']) {
      const names: string[] = [];
      for await (const blob of container.listBlobsFlat({ prefix })) names.push(blob.name.slice(prefix.length));
      assert.ok(names.some((n) => /^idx_.*\.idx$/.test(n)), `the index file is beside ${prefix}: ${names.join(', ')}`);
    }
    for (const url of ['azure://bundles/indexed', 'azure://bundles/indexed-pushed']) {
      const r = await (await open(url, { config: azureConfig })).extend().filter('id = $1', [123]);
      assert.deepEqual((await r.toObjects()).map((row) => Number(row.id)), [123], url);
      await r.close();
    }
  });

  it('refuses with CONFLICT when the target holds commits this bundle lacks, writing nothing', async () => {
    const top = await localChain('diverged');
    const target = 's3://bundles/diverged';
    await (await open(top, { config: s3Config })).push(target);
    const there = await (await open(target, { config: s3Config })).extend().filter('id < 5');
    await there.commit('made in the bucket');
    await there.close();
    const here = await (await open(top, { config: s3Config })).extend().filter('id < 7');
    await here.commit('made locally');
    await expectError(() => here.push(target), 'CONFLICT', /s3:\/\/bundles\/diverged holds commit 3/);
    const after = await open(target, { config: s3Config });
    assert.deepEqual(after.history().map((c) => c.message), ['base', 'top', 'made in the bucket']);
    await (await create(path.join(dir, 'other')).attach(people)).commit('another bundle');
    const other = await open(path.join(dir, 'other'), { config: s3Config });
    await expectError(() => other.push(target), 'CONFLICT', /holds another bundle/);
    await other.close();
    await Promise.all([here.close(), after.close()]);
  });

  it('a tar in a bucket or on a web server opens in place (downloaded once into the cache)', async () => {
    const top = await localChain('tar');
    const tar = path.join(dir, 'chain.tar.gz');
    const result = await (await open(top)).push(tar);
    assert.equal(result.url, tar);
    const client = new S3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${s3Port}`, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    await client.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'archives/chain.tar.gz', Body: await readFile(tar) }));
    for (const url of ['s3://bundles/archives/chain.tar.gz', `http://127.0.0.1:${webPort}/chain.tar.gz`, `tar+http://127.0.0.1:${webPort}/chain.tar.gz`]) {
      const b = await open(url, { config: s3Config });
      assert.equal(await b.numRows(), 60, url);
      assert.equal(await (await b.view('young')).numRows(), 20, 'the view extends the base, as in the original chain');
      await expectError(() => b.extend(), 'READ_ONLY', /packed archive/);
      await b.close();
    }
    await expectError(() => open('s3://bundles/archives/missing.tar', { config: s3Config }), 'NOT_FOUND', /s3:\/\/bundles\/archives\/missing\.tar/);
    // and a bundle in a bucket packs into a local archive (pulled into a temporary directory first)
    await (await open(top, { config: s3Config })).push('s3://bundles/to-pack');
    const packed = path.join(dir, 'from-bucket.tar');
    await (await open('s3://bundles/to-pack', { config: s3Config })).exportTar(packed);
    const fromBucket = await open(packed);
    assert.deepEqual(fromBucket.history().map((c) => c.message), ['base', 'top']);
    assert.equal(await fromBucket.numRows(), 60);
    await fromBucket.close();
  });

  it('the command line pushes, pulls and reads remote bundles, configured from the environment', async () => {
    const top = await localChain('cli');
    const env = { ...process.env, BB_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`, BB_S3_ALLOW_HTTP: 'true', BB_S3_ACCESS_KEY_ID: 'S3RVER', BB_S3_SECRET_ACCESS_KEY: 'S3RVER' };
    const bin = path.resolve('dist/cli/main.js');
    const cli = (...args: string[]) => execFileAsync(process.execPath, [bin, ...args], { env });
    // on a terminal (a pseudo-terminal here) push draws a progress bar on stderr
    const onTerminal = `import os, pty, sys\npty.spawn(sys.argv[1:])`;
    const pushed = (await execFileAsync('python3', ['-c', onTerminal, process.execPath, bin, 'push', top, 's3://bundles/cli'], { env })).stdout;
    assert.match(pushed, /Pushing \[[^\]]*\] 100% \| \d+ files/);
    assert.match(pushed, /Copied .* to s3:\/\/bundles\/cli: 2 new commit\(s\)/);
    assert.match((await cli('count', 's3://bundles/cli')).stdout, /60/);
    assert.match((await cli('history', 's3://bundles/cli')).stdout, /top/);
    assert.match((await cli('status', 's3://bundles/cli')).stdout, /No uncommitted changes/);
    assert.match((await cli('exec', 's3://bundles/cli', 'SHOW COUNT', '--format', 'csv')).stdout, /^count\n60\n$/);
    assert.match((await cli('show', 's3://bundles/cli', '-n', '2', '-f', 'csv')).stdout, /^id,age,name,ssn\n0,0,p0,ssn-0\n1,1,p1,ssn-1\n$/);
    // the REPL reads a bundle in a bucket and commits there directly (there is nowhere to stage)
    const shell = spawn(process.execPath, [bin, 'repl', 's3://bundles/cli'], { env: { ...env, BUNDLEBASE_HISTORY: path.join(dir, 'cli-history') } });
    let printed = '';
    shell.stdout.on('data', (d) => (printed += d));
    shell.stdin.end("SHOW SCHEMA\nEXPLAIN\nDESCRIBE DATA id;\nSELECT max(id) AS top_id FROM bundle;\nFILTER WHERE id < 10;\nCOMMIT 'from the shell'\nFILTER WHERE id < 5;\n");
    await new Promise((resolve) => shell.on('close', resolve));
    assert.match(printed, /ssn\s+│ Utf8/);
    assert.match(printed, /id\s+│ INTEGER\s+│\s+60 /, 'DESCRIBE DATA');
    assert.match(printed, /top_id[\s\S]*59/);
    assert.match(printed, /Committed [0-9a-f]{12}/);
    assert.match(printed, /Uncommitted changes dropped/);
    assert.match((await cli('count', 's3://bundles/cli')).stdout, /^10$/m);
    const pulled = path.join(dir, 'cli-pulled');
    assert.match((await cli('pull', 's3://bundles/cli', pulled)).stdout, /3 new commit/);
    assert.match((await cli('count', pulled)).stdout, /10/);
    await assert.rejects(cli('filter', 's3://bundles/cli', 'id < 3'), /works on local bundles/);
  });
});

describe('HTTP (read-only)', () => {
  it('a bundle directory served over HTTP opens and reads; writing is refused', async () => {
    const local = path.join(dir, 'served');
    const b = await create(local).attach(people);
    await b.createView('young', await b.select('SELECT id FROM bundle WHERE age < $1', [10]));
    await b.commit('served');
    await b.filter('id < 30').commit('fewer');
    await b.close();
    const url = `http://127.0.0.1:${webPort}/served`;
    const served = await open(url);
    assert.equal(await served.numRows(), 30);
    assert.deepEqual(served.history().map((c) => c.message), ['served', 'fewer']);
    assert.equal(await (await served.view('young')).numRows(), 10, 'the view follows its parent: age < 10 among ids < 30');
    assert.equal(await (await open(url, { version: 1 })).numRows(), 100);
    await expectError(() => served.extend(), 'READ_ONLY', /http:\/\/127\.0\.0\.1:\d+\/served/);
    await expectError(() => create(`http://127.0.0.1:${webPort}/new`), 'READ_ONLY', /HTTP/);
    await expectError(() => open(`http://127.0.0.1:${webPort}/nothing`), 'NOT_FOUND', /nothing/);
    const closedPort = await freePort();
    await within(expectError(() => open(`http://127.0.0.1:${closedPort}/served`), 'IO_ERROR', /served/), 20_000, 'a closed port fails fast');
    await served.close();
  });
});

describe('stored data in buckets', () => {
  /** Names of the stored data files under `prefix` of the Azurite container. */
  async function storedBlobs(prefix: string): Promise<string[]> {
    const container = BlobServiceClient.fromConnectionString(azuriteConnection(azurite.port)).getContainerClient('bundles');
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix })) if (blob.name.includes('.block.data.')) names.push(blob.name.slice(prefix.length));
    return names;
  }

  it('a commit uploads the data it stores before its manifest; reads fetch it into the cache checked by its hash', async () => {
    const url = 's3://bundles/stored';
    const created: string[] = [];
    const onEvent = (e: { Records: { eventName: string; s3: { object: { key: string } } }[] }) => {
      for (const r of e.Records) if (r.eventName.startsWith('ObjectCreated')) created.push(r.s3.object.key);
    };
    const csv = await writeFixture(path.join(dir, 'to-store.csv'), peopleSql(40));
    const b = await create(url, { config: s3Config }).attach(csv); // auto: stored as Parquet
    assert.equal(await b.numRows(), 40, 'read before the commit, from the staged copy');
    s3.on('event', onEvent);
    await b.commit('stored');
    s3.off('event', onEvent);
    await b.close();
    const data = created.filter((k) => k.endsWith('.block.data.parquet'));
    assert.equal(data.length, 1, `one stored file uploaded: ${created.join(', ')}`);
    assert.ok(created.indexOf(data[0]!) < created.findIndex((k) => k.includes('_bundlebase/00001')), 'the data went up before the commit naming it');
    await rm(csv); // the bundle no longer needs the original
    const previousCache = process.env.BUNDLEBASE_CACHE;
    const client = new S3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${s3Port}`, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    try {
      // an empty cache: the stored file is downloaded and kept under its hash
      process.env.BUNDLEBASE_CACHE = await tempDir('bundlebase-cache-');
      const r = await open(url, { config: s3Config });
      assert.deepEqual((await r.toObjects()).map((row) => Number(row.id)), Array.from({ length: 40 }, (_, i) => i));
      assert.deepEqual(await r.verifyData(), { ok: true, problems: [] });
      await r.close();
      const prefix = data[0]!.slice('stored/'.length).replace('/', '').slice(0, 16);
      const content = path.join(process.env.BUNDLEBASE_CACHE, 'content', prefix.slice(0, 2));
      assert.equal((await readdir(content)).filter((n) => n.startsWith(prefix) && n.length === 64).length, 1, 'cached under its SHA-256');
      // later reads need no download: the object may even be gone
      await client.send(new PutObjectCommand({ Bucket: 'bundles', Key: data[0]!, Body: 'not the stored bytes' }));
      const again = await open(url, { config: s3Config });
      assert.equal((await again.toObjects()).length, 40);
      // verifyData re-hashes the bucket's bytes, not the cached copy
      const check = await again.verifyData();
      assert.deepEqual(check.problems.map((p) => [p.kind, p.file]), [['corrupt', `s3://bundles/${data[0]}`]]);
      await again.close();
      // another empty cache: the damaged object is refused, not read
      process.env.BUNDLEBASE_CACHE = await tempDir('bundlebase-cache-');
      const damaged = await open(url, { config: s3Config });
      await expectError(() => damaged.toObjects(), 'IO_ERROR', /s3:\/\/bundles\/stored\/.*block\.data\.parquet does not match its recorded hash/);
      await damaged.close();
    } finally {
      process.env.BUNDLEBASE_CACHE = previousCache;
    }
  });

  it('remote sources with auto/copy/parquet are fetched once into the bundle; push and pull copy stored data only where missing', async () => {
    const served = await writeFixture(path.join(dir, 'served-stored.csv'), peopleSql(30));
    const client = new S3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${s3Port}`, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    await client.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'data/copied.parquet', Body: await readFile(people) }));
    const url = 'azure://bundles/stored-sources';
    const b = await create(url, { config: { ...azureConfig, ...s3Config } });
    await b.attach(`http://127.0.0.1:${webPort}/served-stored.csv`, { saveAs: 'auto' });
    await b.attach('s3://bundles/data/copied.parquet', { saveAs: 'copy' });
    await b.commit('stored from the web and a bucket');
    await b.close();
    // the originals change or go: the bundle reads what it stored
    await writeFixture(served, peopleSql(70));
    await client.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'data/copied.parquet', Body: 'gone' }));
    assert.deepEqual((await storedBlobs('stored-sources/')).map((n) => n.replace(/^.*\.block\.data\./, '')).sort(), ['parquet', 'parquet']);
    const r = await open(url, { config: azureConfig });
    assert.equal(await r.numRows(), 130);
    // pulled into a directory with its data; pulling again copies nothing
    const pulledDir = path.join(dir, 'stored-pulled');
    const first = await r.push(pulledDir);
    assert.equal(first.filesCopied, 2, 'the two stored files');
    assert.deepEqual([(await r.push(pulledDir)).filesCopied, (await r.push(pulledDir)).commitsCopied], [0, 0]);
    await r.close();
    // and from there to another bucket: it reads there without the originals
    const copy = await open(pulledDir);
    assert.equal(await copy.numRows(), 130);
    await copy.push('azure://bundles/stored-pushed', { config: azureConfig });
    await copy.close();
    assert.equal((await storedBlobs('stored-pushed/')).length, 2);
    const there = await open('azure://bundles/stored-pushed', { config: azureConfig });
    assert.equal(await there.numRows(), 130);
    await there.close();
  });
});

describe('remote sources', () => {
  it('attach(https://…) reads through the cache; a changed file is SOURCE_CHANGED', async () => {
    const csv = await writeFixture(path.join(dir, 'served-people.csv'), peopleSql(50));
    const url = `http://127.0.0.1:${webPort}/served-people.csv`;
    const bundleDir = path.join(dir, 'http-source');
    const b = await create(bundleDir).attach(url);
    assert.equal(await b.numRows(), 50);
    await b.commit('from the web');
    await b.close();
    const r = await open(bundleDir);
    assert.equal((await r.toObjects()).length, 50);
    assert.equal(await r.numRows(), 50);
    assert.equal(downloads.get('/served-people.csv'), 1, 'downloaded once; later reads only check its version');
    assert.equal(r.operations().find((o) => o.type === 'attachBlock')?.describe(), `Attach ${url}`);
    await r.close();
    await writeFixture(csv, peopleSql(70));
    const changed = await open(bundleDir);
    await expectError(() => changed.numRows(), 'SOURCE_CHANGED', new RegExp(`${url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}.*changed since it was attached`));
    await changed.close();
  });

  it('attach(s3://…) with the bundle’s stored config; an overwritten object is SOURCE_CHANGED', async () => {
    const client = new S3Client({ region: 'us-east-1', endpoint: `http://127.0.0.1:${s3Port}`, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
    await client.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'data/people.parquet', Body: await readFile(people) }));
    process.env.TEST_S3_SECRET = 'S3RVER';
    const bundleDir = path.join(dir, 's3-source');
    const b = await create(bundleDir).setConfig('s3.endpoint', `http://127.0.0.1:${s3Port}`, 's3://bundles/').setConfig('s3.allow_http', 'true');
    await b.setConfig('s3.access_key_id', 'S3RVER').setConfig('s3.secret_access_key', 'env:TEST_S3_SECRET').attach('s3://bundles/data/people.parquet');
    await b.filter('id < 25').commit('from a bucket');
    await b.close();
    const r = await open(bundleDir);
    assert.equal(await r.numRows(), 25);
    await r.close();
    await client.send(new PutObjectCommand({ Bucket: 'bundles', Key: 'data/people.parquet', Body: 'not the same' }));
    const changed = await open(bundleDir);
    await expectError(() => changed.toObjects(), 'SOURCE_CHANGED', /s3:\/\/bundles\/data\/people\.parquet/);
    assert.deepEqual((await changed.verifyData()).problems.map((p) => [p.kind, p.file]), [['changed', 's3://bundles/data/people.parquet']]);
    await changed.close();
    await expectError(() => create(undefined, { config: s3Config }).attach('s3://bundles/data/missing.parquet'), 'NOT_FOUND', /s3:\/\/bundles\/data\/missing\.parquet/);
  });
});

describe('content cache', () => {
  const bytesOf = (text: string) => async () => Readable.from([Buffer.from(text)]);
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  it('concurrent readers share one download; a file once there is reused', async () => {
    let opened = 0;
    const request = { key: sha('shared content'), what: 'test://shared', open: async () => (opened++, bytesOf('shared content')()) };
    const files = await Promise.all([cached(request), cached(request), cached(request)]);
    assert.equal(new Set(files).size, 1);
    assert.equal(await readFile(files[0]!, 'utf8'), 'shared content');
    assert.equal(await cached(request), files[0]);
    assert.equal(opened, 1);
  });

  it('processes fetching the same content at once download it once (a lock file), and all get the whole file', async () => {
    const url = `http://127.0.0.1:${webPort}/slow`;
    const runs = [0, 1, 2].map(() =>
      execFileAsync(process.execPath, ['--import', 'tsx', path.resolve('test/support/cache-fetcher.ts'), url], { env: process.env }),
    );
    const files = (await Promise.all(runs)).map((r) => r.stdout.trim());
    assert.equal(new Set(files).size, 1);
    assert.equal((await stat(files[0]!)).size, 20 * 1024);
    assert.equal(downloads.get('/slow'), 1);
  });

  it('content not matching its hash is refused and leaves nothing behind', async () => {
    const key = sha('expected');
    await expectError(() => cached({ key, what: 'test://damaged', open: bytesOf('something else') }), 'IO_ERROR', /test:\/\/damaged does not match its recorded hash/);
    const shard = path.join(process.env.BUNDLEBASE_CACHE!, 'content', key.slice(0, 2));
    // the shard may hold other content whose hash starts alike (files cached by earlier tests)
    const left = (await readdir(shard).catch(() => [] as string[])).filter((name) => name.startsWith(key) || name.startsWith('.tmp-'));
    assert.deepEqual(left, []);
  });

  it('BUNDLEBASE_CACHE_MAX evicts the least recently used files', async () => {
    process.env.BUNDLEBASE_CACHE_MAX = '2500';
    try {
      const kb = (c: string) => c.repeat(1000);
      const a = await cached({ key: sha(kb('a')), what: 'a', open: bytesOf(kb('a')) });
      await new Promise((r) => setTimeout(r, 20));
      const b = await cached({ key: sha(kb('b')), what: 'b', open: bytesOf(kb('b')) });
      await new Promise((r) => setTimeout(r, 20));
      await cached({ key: sha(kb('a')), what: 'a', open: bytesOf(kb('a')) }); // a used again: b is now the oldest
      await new Promise((r) => setTimeout(r, 20));
      const c = await cached({ key: sha(kb('c')), what: 'c', open: bytesOf(kb('c')) });
      const exists = (f: string) => stat(f).then(() => true, () => false);
      assert.deepEqual([await exists(a), await exists(b), await exists(c)], [true, false, true]);
    } finally {
      delete process.env.BUNDLEBASE_CACHE_MAX;
    }
  });
});

function runCommitter(url: string, count: number, tag: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('test/support/committer.ts'), url, String(count), tag], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`committer ${tag} exited ${code}: ${stderr}`))));
  });
}
