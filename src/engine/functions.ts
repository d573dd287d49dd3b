import * as arrow from 'apache-arrow';
import {
  DuckDBTableFunction,
  JSToDuckDBValueConverter,
  type DuckDBDataChunk,
  type DuckDBType,
  type DuckDBVector,
} from '@duckdb/node-api';
import { namedType } from '../arrow/types.js';
import { assignJoinedStrings } from './arrow/native.js';
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
  (await database.registrar).registerTableFunction(
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

const CHUNK_ROWS = 2048;

/**
 * The raw `duckdb_vector` handle of a vector: @duckdb/node-api keeps it in a field its types mark
 * private (the addon's coupling to that package is pinned by its exact version).
 */
function rawVector(vector: DuckDBVector): unknown {
  return (vector as unknown as { vector: unknown }).vector;
}

/** Declared types whose normalized JS value (bigint, number, string, boolean) a DuckDB vector takes as is. */
const DIRECT_TYPES = new Set(['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64', 'Float32', 'Float64', 'Utf8', 'Boolean']);

/** The next page, pulled ahead: its columns (null: the function is done), or what it threw. */
type Ahead = { columns: unknown[][] | null } | { error: unknown };

/**
 * Pulls pages from a source function and hands DuckDB up to one chunk of rows per call. While
 * DuckDB works on a page's chunks, the next page is pulled when the JS thread is free (at most one
 * ahead), so DuckDB's thread seldom waits for the function itself.
 */
class PageReader {
  private page = 0;
  private done = false;
  private ahead: Ahead | undefined;
  private prefetching = false;
  private columns: unknown[][] = [];
  private offset = 0;
  private readonly names: string[];
  private readonly normalizers: ((value: unknown) => unknown)[];
  private readonly schema: arrow.Schema;
  private readonly splitRows: (rows: readonly Record<string, unknown>[]) => unknown[][];
  /** Reused by writeStrings: the UTF-16 length of each value of a chunk (-1: NULL). */
  private readonly lengths = new Int32Array(CHUNK_ROWS);
  /** BUNDLEBASE_CONVERSION=js (when the read starts) keeps the addon off (tests compare both). */
  private readonly nativeText = process.env.BUNDLEBASE_CONVERSION !== 'js';

  constructor(private readonly definition: FunctionDefinition) {
    const columns = outputColumns(definition.output, definition.name);
    this.names = columns.map((c) => c.name);
    this.splitRows = rowSplitter(this.names);
    this.normalizers = columns.map((c) => normalizer(definition.output[c.name]!));
    this.schema = new arrow.Schema(columns.map((c) => new arrow.Field(c.name, c.arrow, true)));
  }

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
      // text goes in with one native call per chunk (the vector's own flush makes one per value)
      if (declared === 'Utf8' && this.nativeText && writeStrings(vector, values, start, rows, this.lengths)) return;
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

  /** The next page's columns, as given (fill() normalizes only values not of the stored JS type); null at the end. */
  private pull(): unknown[][] | null {
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

/**
 * Text values of a chunk, through the addon: the chunk's strings joined in JS and cut apart by
 * their lengths natively (values that are not text are converted with String first). False when
 * the addon is unavailable.
 */
function writeStrings(vector: DuckDBVector, values: unknown[], start: number, rows: number, lengths: Int32Array): boolean {
  for (let r = 0; r < rows; r++) {
    const value = values[start + r];
    if (typeof value === 'string') lengths[r] = value.length;
    else if (value === null || value === undefined) lengths[r] = -1;
    else lengths[r] = (values[start + r] = String(value)).length;
  }
  return assignJoinedStrings(rawVector(vector), values.slice(start, start + rows).join(''), lengths, rows);
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
