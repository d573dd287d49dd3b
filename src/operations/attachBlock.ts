import type { PlanState, CsvOptions, SourceBlock, SourceFormat } from '../plan/state.js';
import { resolveSource } from '../storage/location.js';
import { readableLocation } from '../storage/remote.js';
import { compact, field, listField, optionalBoolean, optionalNumber, optionalRecord, optionalString, type ManifestOp, type Operation, type ReplayContext } from './operation.js';
import { invalidArgument } from '../errors.js';
import { functionTableName } from '../engine/functions.js';

export interface SchemaField {
  name: string;
  data_type: string;
  nullable: boolean;
}

export interface AttachBlockFields {
  source: string;
  version?: string;
  id: string;
  packId: string;
  numRows?: number;
  bytes?: number;
  schema?: { fields: SchemaField[] };
  layout?: string;
  /** Only written when given explicitly: the extension decides otherwise. */
  format?: SourceFormat;
  csv?: CsvOptions;
  /**
   * The stored copy read instead of `source` (saveAs other than 'ref'): relative to the bundle's
   * directory (absolute for an in-memory bundle), named by `hash`, its SHA-256.
   */
  location?: string;
  hash?: string;
}

const EXTENSIONS: [RegExp, SourceFormat][] = [
  [/\.(parquet|pq)$/i, 'parquet'],
  [/\.(csv|tsv|txt)(\.(gz|zst))?$/i, 'csv'],
  [/\.(json|jsonl|ndjson)(\.(gz|zst))?$/i, 'json'],
];

/** The source's format: explicit, by `function://` scheme, or by file extension. */
export function detectFormat(source: string, explicit?: string): SourceFormat {
  if (explicit !== undefined) {
    if (!['parquet', 'csv', 'json'].includes(explicit)) {
      throw invalidArgument(`Unknown format '${explicit}' for '${source}'; use parquet, csv or json`);
    }
    // a .json file read as CSV gives columns named after its text: refuse the contradiction
    const byName = EXTENSIONS.find(([re]) => re.test(source.replace(/[?#].*$/, '')))?.[1];
    if (byName !== undefined && byName !== explicit) {
      throw invalidArgument(`'${source}' is named like ${byName} but format '${explicit}' was given; give the format of its content, or rename the file`);
    }
    return explicit as SourceFormat;
  }
  if (isFunctionSource(source)) return 'function';
  const found = EXTENSIONS.find(([re]) => re.test(source.replace(/[?#].*$/, '')));
  if (!found) {
    throw invalidArgument(`Cannot tell the format of '${source}' from its extension: give its format (parquet, csv or json; command line: --format)`);
  }
  return found[1];
}

export function isFunctionSource(source: string): boolean {
  return /^function:\/\//i.test(source);
}

/** `function://name` → `name`. */
export function functionName(source: string): string {
  return source.replace(/^function:\/\//i, '');
}

/** Adds one source (a block) to a pack. `source` is kept exactly as the user passed it. */
export class AttachBlock implements Operation {
  readonly type = 'attachBlock';
  /** Views are read-only projections of their parent: they cannot add sources or views. */
  static readonly allowedOnView = false;

  constructor(readonly fields: AttachBlockFields, readonly context: ReplayContext) {}

  static fromManifest(op: ManifestOp, context: ReplayContext): AttachBlock {
    const type = 'attachBlock';
    const schema = optionalRecord(op, 'schema');
    const csv = optionalRecord(op, 'csv');
    const format = optionalString(op, 'format');
    const fields: AttachBlockFields = {
      source: field(op, 'source'),
      version: optionalString(op, 'version'),
      id: field(op, 'id'),
      packId: field(op, 'packId'),
      numRows: optionalNumber(op, 'numRows'),
      bytes: optionalNumber(op, 'bytes'),
      schema: schema && {
        fields: listField(schema, 'fields', (f) => ({
          name: optionalString(f, 'name', type) ?? '',
          data_type: optionalString(f, 'data_type', type) ?? '',
          nullable: optionalBoolean(f, 'nullable', type) ?? true,
        }), type),
      },
      layout: optionalString(op, 'layout'),
      location: optionalString(op, 'location'),
      hash: optionalString(op, 'hash'),
      format: format === undefined ? undefined : detectFormat(String(op.source), format),
      csv: csv && {
        delimiter: optionalString(csv, 'delimiter', type),
        header: optionalBoolean(csv, 'header', type),
        quote: optionalString(csv, 'quote', type),
      },
    };
    return new AttachBlock(fields, context);
  }

  get source(): string {
    return this.fields.source;
  }

  /** Whether the block is read from a copy stored in the bundle (never from its source again). */
  get stored(): boolean {
    return this.storedCopy !== undefined;
  }

  /** The stored copy as recorded, when there is one (a location without its hash is not one). */
  private get storedCopy(): string | undefined {
    return this.fields.hash === undefined ? undefined : this.fields.location;
  }

  /** Absolute path or URL the engine reads: the stored copy, else the source. */
  get location(): string {
    const stored = this.storedCopy;
    return stored === undefined ? this.sourceLocation : this.resolve(stored);
  }

  /** Where the source as attached is (for a stored block: where it was copied from). */
  get sourceLocation(): string {
    return this.resolve(this.fields.source);
  }

  private resolve(recorded: string): string {
    return resolveSource(recorded, this.context.baseDir, this.context.root, this.context.baseUrl);
  }

  /** The format read: the stored copy's (named by its extension), else the source's. */
  get format(): SourceFormat {
    const stored = this.storedCopy;
    return stored === undefined ? detectFormat(this.fields.source, this.fields.format) : detectFormat(stored);
  }

  describe(): string {
    return `Attach ${this.fields.source}`;
  }

  toManifest(): ManifestOp {
    const f = this.fields;
    return compact({
      type: this.type,
      source: f.source,
      version: f.version,
      id: f.id,
      packId: f.packId,
      numRows: f.numRows,
      bytes: f.bytes,
      schema: f.schema,
      layout: f.layout,
      format: f.format,
      csv: f.csv,
      location: f.location,
      hash: f.hash,
    });
  }

  apply(state: PlanState): void {
    const blocks = state.packs.get(this.fields.packId);
    if (!blocks) throw invalidArgument(`attachBlock ${this.fields.id} refers to undefined pack '${this.fields.packId}'`);
    blocks.push(this.sourceBlock());
  }

  /** The block as the compiler reads it. */
  sourceBlock(): SourceBlock {
    return {
      id: this.fields.id,
      packId: this.fields.packId,
      location: this.format === 'function' ? functionTableName(functionName(this.fields.source)) : readableLocation(this.location, this.fields.hash ?? this.fields.version),
      format: this.format,
      csv: this.fields.csv,
      numRows: this.fields.numRows,
      version: this.fields.version,
      columnTypes: this.fields.schema && Object.fromEntries(this.fields.schema.fields.map((f) => [f.name, f.data_type])),
    };
  }
}
