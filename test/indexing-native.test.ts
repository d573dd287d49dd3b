// The CSV index scanner in the addon (native/index_scan.c) against the pure-JS one it replaces on
// the hot path: the same entries for awkward CSV, at any chunk size, and the same index files.
import assert from 'node:assert/strict';
import path from 'node:path';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { create } from '../src/index.js';
import { csvChunkScanner, nativeAvailable } from '../src/engine/arrow/native.js';
import { readIndexHeader } from '../src/indexing/file.js';
import { canonical, hashText, scanCsv, scanNdjson, textHash, type RecordEntries, type ValueKind } from '../src/indexing/scan.js';
import { duck, duckRows, tempDir, writeFixture } from './helpers.js';

const NATIVE_OFF = process.env.BUNDLEBASE_SKIP_NATIVE || process.env.BUNDLEBASE_CONVERSION === 'js' ? 'the addon is off' : false;

// header; quotes with doubled quotes; a newline, a comma and a CRLF inside quotes; NULLs (empty
// fields, an empty quoted string); a blank line; integers with sign, leading zeros and (Unicode)
// spaces; text that is no integer; duplicates; CRLF endings; no newline at the end
const RECORDS = [
  '1,"plain",10',
  '0002,"say ""hi""",+7',
  '2,"multi\nline, with comma",-0',
  ',"",',
  ' 3 ,naïve 名前,007',
  'x1,"crlf\r\ninside",12x',
  '-0010,"",-',
  '-5,plain,\u00a05\u3000',
];
const TEXT = `id,name,score\n${RECORDS[0]}\n${RECORDS[1]}\n${RECORDS[2]}\n${RECORDS[3]}\r\n\n${RECORDS[4]}\r\n${RECORDS[5]}\n${RECORDS[6]}\n${RECORDS[7]}`;
const EXPECTED: Record<string, { kind: ValueKind; column: number; values: (string | null)[] }> = {
  id: { kind: 'integer', column: 0, values: ['1', '2', '2', null, '3', null, '-10', '-5'] },
  name: { kind: 'string', column: 1, values: ['plain', 'say "hi"', 'multi\nline, with comma', null, 'naïve 名前', 'crlf\r\ninside', null, 'plain'] },
  score: { kind: 'integer', column: 2, values: ['10', '7', '0', null, '7', null, null, '5'] },
};

let dir: string;
let awkward: string;
before(async () => {
  dir = await tempDir('bundlebase-index-native-');
  awkward = path.join(dir, 'awkward.csv');
  await writeFile(awkward, TEXT);
  await duck('SELECT 1'); // DuckDB's library is loaded: the addon shares it
});

const plain = (e: RecordEntries) => ({ hashes: [...e.hashes.subarray(0, e.count)], offsets: [...e.offsets.subarray(0, e.count)], lengths: [...e.lengths.subarray(0, e.count)] });

describe('CSV index scanner: addon and JS give the same entries', () => {
  it('the addon scanner is loaded when the addon is', { skip: NATIVE_OFF }, () => {
    assert.equal(nativeAvailable(), true);
    assert.equal(typeof csvChunkScanner(), 'function');
  });

  for (const [name, { kind, column, values }] of Object.entries(EXPECTED)) {
    it(`column ${name} (${kind}): hashes of canonical values, 0 for NULL or no ${kind}; record byte ranges; any chunk size`, async () => {
      const bytes = Buffer.from(TEXT);
      const layout = { delimiter: ',', quote: '"', header: true, column };
      const expected = {
        hashes: values.map((v) => (v === null ? 0 : hashText(v))),
        offsets: RECORDS.map((r) => bytes.indexOf(Buffer.from(r))),
        lengths: RECORDS.map((r) => Buffer.byteLength(r)),
      };
      for (const chunkSize of [1, 5, 64, undefined]) {
        const js = await scanCsv(awkward, layout, kind, undefined, { engine: 'js', chunkSize });
        assert.deepEqual(plain(js), expected, `JS, chunks of ${chunkSize ?? 'default'}`);
        const native = await scanCsv(awkward, layout, kind, undefined, { chunkSize });
        assert.deepEqual(plain(native), expected, `addon, chunks of ${chunkSize ?? 'default'}`);
      }
    });
  }

  it('no quote character: quotes are plain text; a column past a short record is NULL', async () => {
    const file = path.join(dir, 'unquoted.csv');
    await writeFile(file, 'a;b\n"x;1\n"y";2;3\nz\n');
    for (const engine of ['js', undefined] as const) {
      const entries = await scanCsv(file, { delimiter: ';', quote: '', header: true, column: 1 }, 'string', undefined, { engine });
      assert.deepEqual(plain(entries).hashes, [hashText('1'), hashText('2'), 0], engine ?? 'addon');
    }
  });
});

describe('CSV index scanner: numbers hashed as DuckDB reads them', () => {
  /** The awkward texts, then deterministic pseudo-random ones (a fixed LCG): the same cases on every run. */
  function texts(awkward: string[], count: number, seed: number, forms: ((r: (n: number) => number) => string)[]): string[] {
    let state = seed;
    const r = (n: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return (state >>> 8) % n;
    };
    return [...awkward, ...Array.from({ length: count }, () => forms[r(forms.length)]!(r))];
  }
  const FLOATS = [
    (r: (n: number) => number) => String((r(1e9) / 1e9) * 10 ** (r(40) - 20)),
    (r: (n: number) => number) => (r(1e6) / 7).toFixed(r(20)),
    (r: (n: number) => number) => `${r(2) ? '-' : ''}${r(100000)}e${r(2) ? '-' : '+'}${r(330)}`,
    (r: (n: number) => number) => `0.${'0'.repeat(r(30))}${r(1e6)}`,
    (r: (n: number) => number) => `${r(1e9)}${'1234567890123456789012'.slice(0, r(22))}.${r(1e9)}`,
    (r: (n: number) => number) => String(Math.fround(r(1e6) / 1000)),
    (r: (n: number) => number) => `${r(1000)}_${String(r(1000)).padStart(3, '0')}.5_5e1_0`,
  ];
  const AWKWARD_FLOATS = ['inf', '-Infinity', 'NaN', '+INF', '1.', '.5', '-.5e-3', ' 2.5 ', '\u00a03.5\u3000', '00012.50', '1e400', '-1e-400',
    '4.9e-324', '2.2250738585072014e-308', '9007199254740993', '1.7976931348623157e308', '0.1', '1_000', '_1', '1__0', '1._5', '1.5_',
    '0x10', '1e', 'e5', '.', '-', '1,5', 'nan5', '-0', '1.1', '1.100000023841858', '1.10000002384185791015625'];
  const INTEGERS = [
    (r: (n: number) => number) => String(r(1e9) - 5e8),
    (r: (n: number) => number) => `${'0'.repeat(r(4))}${r(1e6)}`,
    (r: (n: number) => number) => `${r(1000)}_${String(r(1000)).padStart(3, '0')}`,
  ];
  const AWKWARD_INTEGERS = ['1_000', '0_1', '_1', '1_', '1__0', '-1_0', ' 7 ', '+8', '-0', '0_0', '9223372036854775807', '-9223372036854775808', '+', '',
    // decimals an integer column rounds half away from zero, on the exact digits
    '1.0', '1.5', '2.5', '-2.5', '-0.5', '0.49', '.5', '5.', '1e3', '0.5e1', '1.5e-1', '1e-400', '1e30', '1e45', '1.5_0', '1_0.5', '9.5', '99.5',
    '-999.5', '123456789012345678.5', '1.49999999999999999999', '0000.0005e4', '1._5', '1e', '1e_1', '170141183460469231731687303715884105727'];

  async function compare(kind: ValueKind, type: string, values: string[]) {
    const file = path.join(dir, `${kind}.csv`);
    await writeFile(file, `x\n${values.map((v) => `"${v}"`).join('\n')}\n`);
    const rows = await duckRows(`SELECT TRY_CAST(x AS ${type})${type === 'HUGEINT' ? '::VARCHAR' : '::DOUBLE'} AS v FROM read_csv('${file}', all_varchar = true, header = true, quote = '"')`);
    assert.equal(rows.length, values.length);
    const layout = { delimiter: ',', quote: '"', header: true, column: 0 };
    const js = plain(await scanCsv(file, layout, kind, undefined, { engine: 'js' })).hashes;
    const native = plain(await scanCsv(file, layout, kind)).hashes;
    assert.deepEqual(native, js, `${kind}: the addon and JS agree`);
    rows.forEach(({ v }, i) => {
      // every text DuckDB reads as a number hashes as that number (texts it refuses may hash too: a superset is safe)
      if (v !== null) assert.equal(js[i], textHash(String(v), kind), `${kind} ${JSON.stringify(values[i])} read by DuckDB as ${String(v)}`);
    });
    return js;
  }

  it('DOUBLE and FLOAT: decimals, exponents, digit separators, inf / nan, spaces, long mantissas', async () => {
    const values = texts(AWKWARD_FLOATS, 6000, 7, FLOATS); // past PARALLEL_RECORDS in one chunk: two threads hash it
    const doubles = await compare('float64', 'DOUBLE', values);
    const floats = await compare('float32', 'FLOAT', values);
    const at = (text: string) => values.indexOf(text);
    // FLOAT compares in single precision: 1.1 and its float spelled out are one value there, not as DOUBLE
    assert.ok(at('1.1') >= 0 && at('1.10000002384185791015625') >= 0);
    assert.equal(floats[at('1.1')], floats[at('1.10000002384185791015625')]);
    assert.notEqual(doubles[at('1.1')], doubles[at('1.10000002384185791015625')]);
    for (const refused of ['0x10', '_1', '1__0', '1._5', '1.5_', '1e', '.', 'nan5']) assert.equal(doubles[at(refused)], 0, refused);
  });

  it('integers: signs, leading zeros, digit separators only between digits', async () => {
    const values = texts(AWKWARD_INTEGERS, 2000, 11, INTEGERS);
    const hashes = await compare('integer', 'HUGEINT', values);
    assert.equal(hashes[values.indexOf('1_000')], hashText('1000'));
    assert.equal(hashes[values.indexOf('_1')], 0);
  });
});

describe('NDJSON index scan (addon and JS): what is read from the bytes is what parsing the line gives', () => {
  // plain values (read from the bytes) beside escapes, big numbers, 1.0, true, nested keys, spaces
  // and missing keys (parsed); an empty string is a value in JSON
  const LINES = [
    '{"id": 5, "name": "plain"}',
    '{"id":-0,"name":""}',
    '{"id":"0012","name":"say \\"hi\\""}',
    '{"id":null,"name":null}',
    '{"name":"no id here"}',
    '{"id":12345678901234567,"name":"big"}',
    '{"id":1.0,"name":"tab\\there"}',
    '{"nested":{"id":7},"id":8,"name":"naïve"}',
    '{ "id" : 42 , "name" : "spaces" }',
    '{"id":true,"name":"5"}',
    '{"id":-120,"name":"名前"}',
    '{"id":1.5e3,"name":" 2.5 "}',
    '{"id":0.1,"name":"1_000.5"}',
    '{"id":-0.0,"name":"-Infinity"}',
    '{"id":1e400,"name":"nan"}',
    '{"id":12345678901234567890123,"name":"1_000"}',
  ];

  it('integer, text and floating-point keys give the hash of the parsed value, canonical for the kind', async () => {
    const file = path.join(dir, 'awkward.json');
    await writeFile(file, `${LINES.join('\n')}\n\n`);
    for (const key of ['id', 'name']) {
      for (const kind of ['integer', 'string', 'float64', 'float32'] as const) {
        const expected = LINES.map((line) => {
          // long integers keep their digits, as DuckDB reads them (JSON.parse would round them)
          const value = (JSON.parse(line.replace(/:(-?[1-9]\d{15,})/g, ':"$1"')) as Record<string, unknown>)[key];
          return value === undefined || value === null ? 0 : textHash(String(value), kind);
        });
        for (const engine of ['js', undefined] as const) {
          for (const chunkSize of [7, undefined]) {
            const entries = await scanNdjson(file, key, kind, undefined, { engine, chunkSize });
            const how = `${key} as ${kind}, ${engine ?? 'addon'}, chunks of ${chunkSize ?? 'default'}`;
            assert.deepEqual(plain(entries).hashes, expected, how);
            assert.deepEqual(plain(entries).lengths, LINES.map((l) => Buffer.byteLength(l)), how);
          }
        }
      }
    }
  });

  it('a chunk of thousands of lines (hashed on two threads, deferred lines from both halves): the same as JS', async () => {
    const file = path.join(dir, 'many.json');
    await writeFile(file, `${Array.from({ length: 400 }, () => LINES.join('\n')).join('\n')}\n`);
    for (const kind of ['integer', 'string', 'float64'] as const) {
      const js = plain(await scanNdjson(file, 'id', kind, undefined, { engine: 'js' }));
      const native = plain(await scanNdjson(file, 'id', kind));
      assert.equal(native.hashes.length, 400 * LINES.length);
      assert.deepEqual(native, js, kind);
    }
  });
});

describe('index files built through the addon and in JS are the same', () => {
  /** An index on `column` built with the addon or in JS: its header figures, its arrays (3000 entries: no padding) and a lookup's row count. */
  async function build(column: string, file: string, conversion: 'js' | 'native') {
    const previous = process.env.BUNDLEBASE_CONVERSION;
    if (conversion === 'js') process.env.BUNDLEBASE_CONVERSION = 'js';
    try {
      const bundleDir = path.join(dir, `b-${column}-${conversion}-${path.basename(file)}`);
      const b = await create(bundleDir).attach(file, { saveAs: 'ref' }).createIndex(column);
      const idx = path.join(bundleDir, (await readdir(bundleDir)).find((f) => f.endsWith('.idx'))!);
      const header = await readIndexHeader(idx);
      const data = await readFile(idx);
      const rows = await b.filter(`${column} = $1`, [column === 'id' ? 2 : 'say "hi"']).toObjects();
      await b.close();
      const [block] = header.blocks;
      return { rows: rows.length, count: block!.count, distinct: block!.distinct, kind: block!.kind, sections: data.subarray(data.length - block!.count * 16) };
    } finally {
      if (previous === undefined) delete process.env.BUNDLEBASE_CONVERSION;
      else process.env.BUNDLEBASE_CONVERSION = previous;
    }
  }

  it('integer and text columns with NULLs, duplicates, quotes and newlines: same bytes, same lookups', async () => {
    const file = await writeFixture(path.join(dir, 'written.csv'), `
      SELECT CASE WHEN i % 11 = 0 THEN NULL ELSE i % 50 END AS id,
             CASE WHEN i % 13 = 0 THEN NULL WHEN i % 5 = 0 THEN 'say "hi"' ELSE 'line ' || (i % 40) || chr(10) || 'next, "q"' END AS name
      FROM range(3000) t(i)`);
    for (const column of ['id', 'name']) {
      const native = await build(column, file, 'native');
      const js = await build(column, file, 'js');
      assert.equal(native.count, 3000);
      assert.equal(native.kind, column === 'id' ? 'integer' : 'string');
      assert.ok(native.distinct > 10 && native.distinct < 100, `${column}: ${native.distinct} distinct hashes`);
      assert.deepEqual(native.sections, js.sections, `${column}: the index arrays are byte for byte the same`);
      const matching = Array.from({ length: 3000 }, (_, i) => (column === 'id' ? i % 11 !== 0 && i % 50 === 2 : i % 13 !== 0 && i % 5 === 0)).filter(Boolean).length;
      assert.equal(native.rows, matching);
      assert.equal(js.rows, native.rows);
    }
  });
});
