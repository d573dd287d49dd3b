// Bundles on object storage and HTTP, against real servers started here on 127.0.0.1: Azure through
// Azurite (Microsoft's emulator, a child process), S3 through s3rver (in this process), HTTP through
// a plain node:http file server.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobServiceClient } from '@azure/storage-blob';
import S3rver from 's3rver';
import YAML from 'yaml';
import { create, open, type ConfigInput } from '../src/index.js';
import { expectError, peopleSql, tempDir, within, writeFixture } from './helpers.js';

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

/** Serves `root` read-only, with HTML directory listings (like nginx autoindex). */
function fileServer(root: string): http.Server {
  return http.createServer(async (req, res) => {
    const file = path.join(root, decodeURIComponent(new URL(req.url!, 'http://x').pathname));
    const found = await stat(file).catch(() => undefined);
    if (!found || !file.startsWith(root)) return void res.writeHead(404).end();
    if (found.isDirectory()) {
      const names = await readdir(file);
      res.writeHead(200, { 'content-type': 'text/html' }).end(names.map((n) => `<a href="${encodeURIComponent(n)}">${n}</a>`).join('\n'));
      return;
    }
    res.writeHead(200, { 'content-length': found.size });
    createReadStream(file).pipe(res);
  });
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
    await expectError(() => open('s3://bundles/people', { config: { ...s3Config, 's3.allow_http': 'false' } }), 'INVALID_ARGUMENT', /allow_http/);
    // a commit that cannot reach the bucket writes nothing, there or in the bundle it extends
    const local = path.join(dir, 'unreachable-parent');
    await (await create(local).attach(people)).commit('local');
    const e = await (await open(local, { config: closed })).extend('s3://bundles/unreachable').filter('id > 1');
    await within(expectError(() => e.commit('unreachable'), 'IO_ERROR', /reach.*s3:\/\/bundles\/unreachable/), 20_000, 'commit to an unreachable bucket');
    await e.close();
    await expectError(() => open('s3://bundles/unreachable', { config: s3Config }), 'NOT_FOUND', /s3:\/\/bundles\/unreachable/);
    const untouched = await open(local);
    assert.deepEqual(untouched.history().map((c) => c.message), ['local']);
    await untouched.close();
  });
});

describe('Azure (Azurite)', () => {
  it('create → commit → open → extend → commit, with a view (azure:// and az://)', async () => {
    await roundTrip('azure://bundles/people', azureConfig);
    const viaAz = await open('az://bundles/people', { config: azureConfig });
    assert.equal(viaAz.url, 'azure://bundles/people');
    assert.equal(viaAz.history().length, 2);
    await viaAz.close();
  });

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
