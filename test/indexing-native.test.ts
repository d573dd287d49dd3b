// The CSV index scanner in the addon (native/index_scan.c) against the pure-JS one it replaces on
// the hot path: the same entries for awkward CSV, at any chunk size, and the same index files.
import assert from 'node:assert/strict';
import path from 'node:path';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { create } from '../src/index.js';
import { csvChunkScanner, nativeAvailable } from '../src/engine/arrow/native.js';
import { readIndexHeader } from '../src/indexing/file.js';
import { floatHash, hashText, scanCsv, scanNdjson, textHash, UNREAD_HASH, type RecordEntries, type ValueKind } from '../src/indexing/scan.js';
import { duck, duckRows, tempDir, writeFixture } from './helpers.js';

const NATIVE_OFF = process.env.BUNDLEBASE_SKIP_NATIVE || process.env.BUNDLEBASE_CONVERSION === 'js' ? 'the addon is off' : false;

// header; quotes with doubled quotes; a newline, a comma and a CRLF inside quotes; NULLs (empty
// fields, an empty quoted string); a blank line; integers with sign, leading zeros and (Unicode)
// spaces; text the index does not read as an integer (kept for every lookup); duplicates; CRLF
// endings; no newline at the end
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
const UNREAD = Symbol('unread');
const EXPECTED: Record<string, { kind: ValueKind; column: number; values: (string | null | typeof UNREAD)[] }> = {
  id: { kind: 'integer', column: 0, values: ['1', '2', '2', null, '3', UNREAD, '-10', '-5'] },
  name: { kind: 'string', column: 1, values: ['plain', 'say "hi"', 'multi\nline, with comma', null, 'naïve 名前', 'crlf\r\ninside', null, 'plain'] },
  score: { kind: 'integer', column: 2, values: ['10', '7', '0', null, '7', UNREAD, UNREAD, '5'] },
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
    it(`column ${name} (${kind}): hashes of canonical values, 0 for NULL, UNREAD_HASH for other text; record byte ranges; any chunk size`, async () => {
      const bytes = Buffer.from(TEXT);
      const layout = { delimiter: ',', quote: '"', header: true, column };
      const expected = {
        hashes: values.map((v) => (v === null ? 0 : v === UNREAD ? UNREAD_HASH : hashText(v))),
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
  ];
  // texts read as numbers here, and texts left unread (DuckDB reads some of them its own ways:
  // separators, hex, a sign before spaces, "+-0.5", "9e"): every lookup reads those records
  const READ_FLOATS = ['inf', '-Infinity', 'NaN', '+INF', '1.', '.5', '-.5e-3', ' 2.5 ', '\u00a03.5\u3000', '00012.50', '1e400', '-1e-400',
    '4.9e-324', '2.2250738585072014e-308', '9007199254740993', '1.7976931348623157e308', '0.1', '-0', '1.1', '1.10000002384185791015625'];
  const UNREAD_FLOATS = ['1_000', '_1', '1__0', '1._5', '1.5_', '0x10', '0x1F', '0b101', '1e', 'e5', '.', '-', '+ ', '- ', '+-0.5', '+-9',
    '1E0000000000.', '9e', '05E- ', '4123456789000009999999999_9', '1,5', 'nan5', '  '];
  const INTEGERS = [
    (r: (n: number) => number) => String(r(1e9) - 5e8),
    (r: (n: number) => number) => `${'0'.repeat(r(4))}${r(1e6)}`,
    (r: (n: number) => number) => `${r(2) ? '-' : '+'}${r(1e6)}${' '.repeat(r(2))}`,
  ];
  const READ_INTEGERS = [' 7 ', '+8', '-0', '007', '9223372036854775807', '-9223372036854775808', '170141183460469231731687303715884105727'];
  // separators, hex and binary (BIGINT reads them), decimals an integer column rounds
  const UNREAD_INTEGERS = ['1_000', '0_1', '_1', '1_', '0x10', '0b101', '0x1F', '+', '-', '+ ', '  ', '1.0', '2.5', '-0.5', '.5', '5.', '1e3',
    '0.5e1', '1e-400', '1e30', '1.5_0', '12x', 'x1'];

  /**
   * Hashes `values` with the addon and in JS (the same), and checks them against DuckDB's own
   * casts: a text DuckDB reads as a value hashes as that value or as unread, never as another.
   */
  async function compare(kind: 'integer' | 'float64', values: string[]) {
    const file = path.join(dir, `${kind}.csv`);
    await writeFile(file, `x\n${values.map((v) => `"${v}"`).join('\n')}\n`);
    const cast = kind === 'integer' ? 'coalesce(TRY_CAST(x AS BIGINT)::VARCHAR, TRY_CAST(x AS HUGEINT)::VARCHAR)' : 'TRY_CAST(x AS DOUBLE)';
    const rows = await duckRows(`SELECT ${cast} AS v FROM read_csv('${file}', all_varchar = true, header = true, quote = '"')`);
    assert.equal(rows.length, values.length);
    const layout = { delimiter: ',', quote: '"', header: true, column: 0 };
    const js = plain(await scanCsv(file, layout, kind, undefined, { engine: 'js' })).hashes;
    const native = plain(await scanCsv(file, layout, kind)).hashes;
    assert.deepEqual(native, js, `${kind}: the addon and JS agree`);
    rows.forEach(({ v }, i) => {
      const read = (v: unknown) => (kind === 'float64' ? floatHash(v as number) : hashText(String(v)));
      if (v !== null && js[i] !== UNREAD_HASH) assert.equal(js[i], read(v), `${kind} ${JSON.stringify(values[i])} read by DuckDB as ${String(v)}`);
    });
    return js;
  }

  it('DOUBLE: decimals, exponents, inf / nan, spaces, long mantissas read; anything else left for every lookup', async () => {
    const values = texts([...READ_FLOATS, ...UNREAD_FLOATS], 6000, 7, FLOATS); // past PARALLEL_RECORDS in one chunk: two threads hash it
    const hashes = await compare('float64', values);
    values.forEach((text, i) => {
      const unread = UNREAD_FLOATS.includes(text);
      assert.equal(hashes[i] === UNREAD_HASH, unread, `${JSON.stringify(text)} ${unread ? 'left unread' : 'read'}`);
    });
    assert.equal(hashes[values.indexOf('1.1')], floatHash(1.1));
    assert.equal(hashes[values.indexOf('-0')], floatHash(0));
  });

  it('integers: signs, spaces and leading zeros read; separators, hex and decimals left for every lookup', async () => {
    const values = texts([...READ_INTEGERS, ...UNREAD_INTEGERS], 2000, 11, INTEGERS);
    const hashes = await compare('integer', values);
    values.forEach((text, i) => {
      const unread = UNREAD_INTEGERS.includes(text);
      assert.equal(hashes[i] === UNREAD_HASH, unread, `${JSON.stringify(text)} ${unread ? 'left unread' : 'read'}`);
    });
    assert.equal(hashes[values.indexOf('007')], hashText('7'));
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
    '{"id":2.5,"name":17}',
    '{"id":{"id":3},"name":[1]}',
  ];

  /** A line's value of `key`, long integers as bigints (exact, as DuckDB reads them; JSON.parse rounds them). */
  const valueOf = (line: string, key: string): unknown => {
    const value = (JSON.parse(line.replace(/:(-?[1-9]\d{15,})/g, ':"\\u0000$1"')) as Record<string, unknown>)[key];
    return typeof value === 'string' && value.startsWith('\u0000') ? BigInt(value.slice(1)) : value;
  };
  /** What each kind reads: strings as text, exact integers for integers, numbers for DOUBLE; the rest is left unread. */
  const expectedHash = (value: unknown, kind: ValueKind): number => {
    if (value === undefined || value === null) return 0;
    if (typeof value === 'string') return textHash(value, kind);
    if (kind === 'integer' && (typeof value === 'bigint' || Number.isSafeInteger(value))) return hashText(String(value));
    if (kind === 'float64' && (typeof value === 'number' || typeof value === 'bigint')) return floatHash(Number(value));
    return UNREAD_HASH;
  };

  it('integer, text and DOUBLE keys give the hash of the parsed value, canonical for the kind', async () => {
    const file = path.join(dir, 'awkward.json');
    await writeFile(file, `${LINES.join('\n')}\n\n`);
    for (const key of ['id', 'name']) {
      for (const kind of ['integer', 'string', 'float64'] as const) {
        const expected = LINES.map((line) => expectedHash(valueOf(line, key), kind));
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
