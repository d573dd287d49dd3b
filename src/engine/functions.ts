import './allocator.js'; // first: DuckDB's library loads with its allocator settings
import * as arrow from 'apache-arrow';
import {
  DuckDBTableFunction,
  JSToDuckDBValueConverter,
  type DuckDBDataChunk,
  type DuckDBType,
  type DuckDBVector,
} from '@duckdb/node-api';
import { namedType } from '../arrow/types.js';
import { nativeFunctionSources, type PageValues, type SourceRequestHandler } from './arrow/native.js';
import { duckdbType } from './arrow/types.js';
import { invalidArgument, notFound } from '../errors.js';
import type { EngineDatabase } from './engine.js';

/** A page of a function source: row objects, a RecordBatch, or null when there are no more. */
export type FunctionPage = Record<string, unknown>[] | arrow.RecordBatch | null;
export type SourceFunction = (page: number, schema: arrow.Schema) => FunctionPage;

export interface FunctionDefinition {
  name: string;
  /** Column name → Arrow type name, in column order. */
  output: Record<string, string>;
  fn: SourceFunction;
  version?: string;
}

/** The declared columns of a function source, with their Arrow and DuckDB types. */
export function outputColumns(output: Record<string, string>, fnName: string): { name: string; arrow: arrow.DataType; type: DuckDBType }[] {
  if (!output || typeof output !== 'object' || Object.keys(output).length === 0) {
    throw invalidArgument(`Function '${fnName}' needs an output: { column: 'Int64' | 'Utf8' | … }`);
  }
  return Object.entries(output).map(([name, typeName]) => {
    const what = `column '${name}' of function '${fnName}'`;
    const arrowType = namedType(typeName, what);
    return { name, arrow: arrowType, type: duckdbType(arrowType, what) };
  });
}

/** The DuckDB table function that reads `function://name`. */
export function functionTableName(name: string): string {
  return `bundlebase_fn_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** Implementations defined in this process; defining a name again replaces it, for every bundle. */
const definitions = new Map<string, FunctionDefinition>();

export function defineSourceFunction(definition: FunctionDefinition): void {
  outputColumns(definition.output, definition.name);
  definitions.set(definition.name, definition);
}

function sourceFunction(name: string): FunctionDefinition {
  const definition = definitions.get(name);
  if (!definition) {
    throw notFound(`Function '${name}' is not defined in this process; call defineFunction({ name: '${name}', … }) first`);
  }
  return definition;
}

/**
 * Makes `function://name` readable by DuckDB: one table function per name, registered once on each
 * database that reads it. Bind looks up the current definition, so redefining never needs
 * re-registering.
 */
export async function ensureTableFunction(name: string, database: EngineDatabase): Promise<void> {
  sourceFunction(name);
  if (database.registeredFunctions.has(name)) return;
  database.registeredFunctions.add(name);
  database.registrar ??= database.connect();
  const registrar = await database.registrar;
  // BUNDLEBASE_CONVERSION=js keeps every native path off (tests compare both)
  const addon = process.env.BUNDLEBASE_CONVERSION === 'js' ? null : nativeFunctionSources();
  if (addon) {
    registrar.registerNativeFunctionSource(functionTableName(name), nativeHandler(name, addon));
    return;
  }
  registrar.registerTableFunction(
    DuckDBTableFunction.create({
      name: functionTableName(name),
      bindFunction: (bind) => {
        try {
          const { output } = sourceFunction(name);
          for (const column of outputColumns(output, name)) bind.addResultColumn(column.name, column.type);
        } catch (err) {
          bind.setError((err as Error).message);
        }
      },
      // pages are pulled in sequence by one thread: fn is never called ahead or in parallel
      initFunction: (init) => {
        init.setMaxThreads(1);
        init.setInitData(new PageReader(sourceFunction(name)));
      },
      mainFunction: (info, output) => {
        try {
          (info.initData as PageReader).fill(output);
        } catch (err) {
          info.setError(`Function '${name}' failed: ${(err as Error).message}`);
        }
      },
    }),
  );
}

/** Answers the addon's table function for `function://name` (see NativePages). */
function nativeHandler(name: string, addon: NonNullable<ReturnType<typeof nativeFunctionSources>>): SourceRequestHandler {
  const sources = new Map<number, NativePages>();
  return (kind, id) => {
    if (kind === 'bind') {
      const columns = outputColumns(sourceFunction(name).output, name);
      return [columns.map((c) => c.name), columns.map((c) => c.type.typeId)];
    }
    if (kind === 'close') {
      sources.delete(id);
      return undefined;
    }
    let pages = sources.get(id);
    if (!pages) {
      try {
        pages = new NativePages(sourceFunction(name));
      } catch (err) {
        addon.endSource(id, (err as Error).message);
        return undefined;
      }
      sources.set(id, pages);
    }
    pages.answer(id, addon);
    return undefined;
  };
}

const CHUNK_ROWS = 2048;

/** Declared types whose normalized JS value (bigint, number, string, boolean) a DuckDB vector takes as is. */
const DIRECT_TYPES = new Set(['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64', 'Float32', 'Float64', 'Utf8', 'Boolean']);

/** The next page, pulled ahead: its columns (null: the function is done), or what it threw. */
type Ahead = { columns: unknown[][] | null } | { error: unknown };

/** Calls a source function page after page and splits each page into columns. */
class Pages {
  private page = 0;
  protected readonly names: string[];
  protected readonly normalizers: ((value: unknown) => unknown)[];
  private readonly schema: arrow.Schema;
  private readonly splitRows: (rows: readonly Record<string, unknown>[]) => unknown[][];

  constructor(protected readonly definition: FunctionDefinition) {
    const columns = outputColumns(definition.output, definition.name);
    this.names = columns.map((c) => c.name);
    this.splitRows = rowSplitter(this.names);
    this.normalizers = columns.map((c) => normalizer(definition.output[c.name]!));
    this.schema = new arrow.Schema(columns.map((c) => new arrow.Field(c.name, c.arrow, true)));
  }

  /** The next page's columns, values as given (normalized when written); null at the end. */
  protected pull(): unknown[][] | null {
    const result = this.definition.fn(this.page++, this.schema);
    if (result === null || result === undefined) return null;
    if (result instanceof arrow.RecordBatch) {
      return this.names.map((n) => {
        const vector = result.getChild(n);
        if (!vector) throw invalidArgument(`RecordBatch from function '${this.definition.name}' has no column '${n}'`);
        return Array.from(vector);
      });
    }
    if (Array.isArray(result)) return this.splitRows(result);
    throw invalidArgument(`Function '${this.definition.name}' returned ${typeof result}; expected rows, a RecordBatch or null`);
  }
}

/**
 * Without the addon: hands DuckDB up to one chunk of rows per call of @duckdb/node-api's table
 * function. While DuckDB works on a page's chunks, the next page is pulled when the JS thread is
 * free (at most one ahead), so DuckDB's thread seldom waits for the function itself.
 */
class PageReader extends Pages {
  private done = false;
  private ahead: Ahead | undefined;
  private prefetching = false;
  private columns: unknown[][] = [];
  private offset = 0;

  private pending(): number {
    return (this.columns[0]?.length ?? 0) - this.offset;
  }

  fill(output: DuckDBDataChunk): void {
    while (!this.done && this.pending() === 0) this.nextPage();
    const rows = Math.min(CHUNK_ROWS, this.pending());
    output.rowCount = rows;
    if (rows === 0) return;
    const start = this.offset;
    this.names.forEach((name, i) => {
      const vector = output.getColumnVector(i);
      const values = this.columns[i]!;
      const declared = this.definition.output[name]!;
      const toValue = this.normalizers[i]!;
      if (declared === 'Int64') writeInt64(vector, values, start, rows, toValue);
      else if (declared === 'Float64') writeFloat64(vector, values, start, rows, toValue);
      else if (DIRECT_TYPES.has(declared)) {
        // normalize() makes the JS value these vectors store: no per-value converter call
        for (let r = 0; r < rows; r++) vector.setItem(r, toValue(values[start + r]) as never);
      } else {
        const { type } = vector;
        for (let r = 0; r < rows; r++) vector.setItem(r, JSToDuckDBValueConverter(toValue(values[start + r]) as never, type, JSToDuckDBValueConverter) as never);
      }
      vector.flush();
    });
    this.offset += rows;
  }

  private nextPage(): void {
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead && 'error' in ahead) throw ahead.error;
    const columns = ahead ? ahead.columns : this.pull();
    this.offset = 0;
    this.columns = columns ?? [];
    if (columns === null) {
      this.done = true;
      return;
    }
    if (!this.prefetching) {
      this.prefetching = true;
      setImmediate(() => {
        this.prefetching = false;
        if (this.done || this.ahead) return;
        try {
          this.ahead = { columns: this.pull() };
        } catch (error) {
          this.ahead = { error };
        }
      });
    }
  }
}

/**
 * With the addon: answers the requests of its table function (native/function_source.c), which
 * fills DuckDB's chunks itself from whole pages handed over here, asking for the next page before
 * the queue runs dry (two pages ahead at most). Each page is encoded per column into a typed array
 * (numbers as doubles, converted on DuckDB's thread), a joined string with lengths (text) or bytes
 * with lengths (blobs), plus a validity array when a value is NULL.
 */
class NativePages extends Pages {
  private readonly encoders: ((values: unknown[], rows: number, toValue: (v: unknown) => unknown) => Encoded)[];

  constructor(definition: FunctionDefinition) {
    super(definition);
    this.encoders = this.names.map((n) => encoderFor(definition.output[n]!, n));
  }

  /** Pushes the next non-empty page of source `id`, or ends it (null) or fails it (thrown). */
  answer(id: number, addon: NonNullable<ReturnType<typeof nativeFunctionSources>>): void {
    try {
      for (;;) {
        const columns = this.pull();
        if (columns === null) return addon.endSource(id);
        const rows = columns[0]?.length ?? 0;
        if (rows === 0) continue;
        const encoded = columns.map((values, i) => this.encoders[i]!(values, rows, this.normalizers[i]!));
        return addon.pushPage(id, rows, encoded.map((e) => e.values), encoded.map((e) => e.lengths), encoded.map((e) => e.valid));
      }
    } catch (err) {
      addon.endSource(id, `Function '${this.definition.name}' failed: ${(err as Error).message}`);
    }
  }
}

/** One column of a page as the addon takes it. */
interface Encoded {
  values: PageValues;
  lengths: Int32Array | null;
  valid: Uint8Array | null;
}

/** Marks row r NULL (the validity array is made on the first NULL). */
function markNull(valid: Uint8Array | null, rows: number, r: number): Uint8Array {
  const marks = valid ?? new Uint8Array(rows).fill(1);
  marks[r] = 0;
  return marks;
}

const DAY_MS = 86_400_000;

/** Whole-number column types: the range their values must fall in (after truncation). */
const WHOLE_RANGES: Record<string, [number, number]> = {
  Int8: [-128, 127], Int16: [-32768, 32767], Int32: [-(2 ** 31), 2 ** 31 - 1], UInt8: [0, 255], UInt16: [0, 65535], UInt32: [0, 2 ** 32 - 1],
  Int64: [-(2 ** 63), 2 ** 63 - 1024], UInt64: [0, 2 ** 64 - 2048], Date32: [-(2 ** 31), 2 ** 31 - 1], Timestamp: [-(2 ** 63), 2 ** 63 - 1024],
};

/** How a column of a declared type is encoded for the addon. */
function encoderFor(typeName: string, column: string): (values: unknown[], rows: number, toValue: (v: unknown) => unknown) => Encoded {
  const range = WHOLE_RANGES[typeName];
  const fits = (v: unknown, x: number) => {
    if (range && !(Math.trunc(x) >= range[0] && Math.trunc(x) <= range[1])) throw invalidArgument(`${String(v)} does not fit column '${column}' (${typeName})`);
    return x;
  };
  switch (typeName) {
    case 'Utf8': return encodeText;
    case 'Binary': return encodeBytes;
    case 'Boolean': return (values, rows) => {
      const out = new Uint8Array(rows);
      let valid: Uint8Array | null = null;
      for (let r = 0; r < rows; r++) {
        const v = values[r];
        if (v === null || v === undefined) valid = markNull(valid, rows, r);
        else out[r] = v ? 1 : 0;
      }
      return { values: out, lengths: null, valid };
    };
    // a Date (or milliseconds) as days / microseconds since the epoch
    case 'Date32': return encodeNumbers((v, toValue) => fits(v, Math.floor((toValue(v) as Date).getTime() / DAY_MS)));
    case 'Timestamp': return encodeNumbers((v, toValue) => fits(v, (toValue(v) as Date).getTime() * 1000));
    case 'Int64': case 'UInt64': return encodeWholeNumbers(typeName === 'UInt64', (v, toValue) => fits(v, typeof v === 'number' ? v : Number(toValue(v))));
    default: return encodeNumbers((v, toValue) => fits(v, typeof v === 'number' ? v : (toValue(v) as number)));
  }
}

/** Numbers as doubles (the addon converts them to the column's type). */
function encodeNumbers(toNumber: (v: unknown, toValue: (v: unknown) => unknown) => number) {
  return (values: unknown[], rows: number, toValue: (v: unknown) => unknown): Encoded => {
    const out = new Float64Array(rows);
    let valid: Uint8Array | null = null;
    for (let r = 0; r < rows; r++) {
      const v = values[r];
      if (v === null || v === undefined) valid = markNull(valid, rows, r);
      else out[r] = toNumber(v, toValue);
    }
    return { values: out, lengths: null, valid };
  };
}

/** 64-bit integers: doubles while every value is a number, else exact 64-bit values (bigints). */
function encodeWholeNumbers(unsigned: boolean, toNumber: (v: unknown, toValue: (v: unknown) => unknown) => number) {
  const asDoubles = encodeNumbers(toNumber);
  return (values: unknown[], rows: number, toValue: (v: unknown) => unknown): Encoded => {
    let numbers = true;
    for (let r = 0; r < rows && numbers; r++) numbers = typeof values[r] === 'number' || values[r] === null || values[r] === undefined;
    if (numbers) return asDoubles(values, rows, toValue);
    const out = unsigned ? new BigUint64Array(rows) : new BigInt64Array(rows);
    let valid: Uint8Array | null = null;
    for (let r = 0; r < rows; r++) {
      const v = values[r];
      if (v === null || v === undefined) {
        valid = markNull(valid, rows, r);
        continue;
      }
      const whole = toValue(v) as bigint;
      if ((unsigned ? BigInt.asUintN(64, whole) : BigInt.asIntN(64, whole)) !== whole) throw invalidArgument(`${whole} is out of range for a ${unsigned ? 'UInt64' : 'Int64'} column`);
      out[r] = whole;
    }
    return { values: out, lengths: null, valid };
  };
}

/** Text: the page's strings joined once, with their UTF-16 lengths (-1: NULL). */
function encodeText(values: unknown[], rows: number): Encoded {
  const lengths = new Int32Array(rows);
  let valid: Uint8Array | null = null;
  for (let r = 0; r < rows; r++) {
    const v = values[r];
    if (typeof v === 'string') lengths[r] = v.length;
    else if (v === null || v === undefined) {
      lengths[r] = -1;
      valid = markNull(valid, rows, r);
    } else lengths[r] = (values[r] = String(v)).length;
  }
  return { values: values.join(''), lengths, valid };
}

/** Blobs: bytes laid end to end, with their lengths (-1: NULL); text becomes its UTF-8 bytes. */
function encodeBytes(values: unknown[], rows: number): Encoded {
  const lengths = new Int32Array(rows);
  const parts: Uint8Array[] = [];
  let valid: Uint8Array | null = null;
  for (let r = 0; r < rows; r++) {
    const v = values[r];
    if (v === null || v === undefined) {
      lengths[r] = -1;
      valid = markNull(valid, rows, r);
      continue;
    }
    const bytes = v instanceof Uint8Array ? v : Buffer.from(String(v));
    parts.push(bytes);
    lengths[r] = bytes.length;
  }
  return { values: Buffer.concat(parts), lengths, valid };
}

/**
 * A function splitting row objects into one array per column in a single pass, with the column
 * names compiled in: reading `row[name]` with a name that changes per column is a megamorphic
 * keyed load, several times slower than a constant property (JSON.stringify makes each name a
 * plain string literal, whatever it contains).
 */
function rowSplitter(names: readonly string[]): (rows: readonly Record<string, unknown>[]) => unknown[][] {
  const columns = names.map((_, i) => `c${i}`);
  const body = [
    'const n = rows.length;',
    ...columns.map((c) => `const ${c} = new Array(n);`),
    'for (let r = 0; r < n; r++) {',
    '  const row = rows[r];',
    ...names.map((name, i) => `  ${columns[i]}[r] = row[${JSON.stringify(name)}];`),
    '}',
    `return [${columns.join(', ')}];`,
  ].join('\n');
  return new Function('rows', body) as (rows: readonly Record<string, unknown>[]) => unknown[][];
}

const TWO_32 = 2 ** 32;

/**
 * Int64 values of a chunk, written into the vector's buffer as two 32-bit words when they are safe
 * integers (as a function's numbers nearly always are): no BigInt per value.
 */
function writeInt64(vector: DuckDBVector, values: readonly unknown[], start: number, rows: number, toValue: (v: unknown) => unknown): void {
  const items = (vector as unknown as { items: BigInt64Array }).items;
  const words = new Int32Array(items.buffer, items.byteOffset, rows * 2); // little-endian: low word first
  for (let r = 0; r < rows; r++) {
    const value = values[start + r];
    const whole = typeof value === 'number' ? Math.trunc(value) : NaN;
    if (whole >= -Number.MAX_SAFE_INTEGER && whole <= Number.MAX_SAFE_INTEGER) {
      words[2 * r] = whole % TWO_32; // Int32Array keeps the low 32 bits
      words[2 * r + 1] = Math.floor(whole / TWO_32);
    } else {
      vector.setItem(r, toValue(value) as never); // bigint, null, text, out of range: as before
    }
  }
}

/** Float64 values of a chunk, written into the vector's buffer; others go through the normalizer. */
function writeFloat64(vector: DuckDBVector, values: readonly unknown[], start: number, rows: number, toValue: (v: unknown) => unknown): void {
  const items = (vector as unknown as { items: Float64Array }).items;
  for (let r = 0; r < rows; r++) {
    const value = values[start + r];
    if (typeof value === 'number') items[r] = value;
    else vector.setItem(r, toValue(value) as never);
  }
}

/** JS values as DuckDB's vectors expect them for a declared type (a batch is cast to it), chosen once per column. */
function normalizer(typeName: string): (value: unknown) => unknown {
  const orNull = (convert: (value: unknown) => unknown) => (value: unknown) => (value === null || value === undefined ? null : convert(value));
  switch (typeName) {
    case 'Int64': case 'UInt64': return orNull((v) => (typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)))));
    case 'Int8': case 'Int16': case 'Int32': case 'UInt8': case 'UInt16': case 'UInt32': case 'Float32': case 'Float64': return orNull(Number);
    case 'Utf8': return orNull(String);
    case 'Boolean': return orNull(Boolean);
    case 'Date32': case 'Timestamp': return orNull((v) => (v instanceof Date ? v : new Date(Number(v))));
    default: return orNull((v) => v);
  }
}
