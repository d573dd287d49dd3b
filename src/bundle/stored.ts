import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { privateTempDir, type EngineDatabase, type ProgressListener } from '../engine/engine.js';
import { ensureTableFunction } from '../engine/functions.js';
import { errorMessage, invalidArgument, ioError } from '../errors.js';
import { functionName } from '../operations/attachBlock.js';
import { convertToParquet } from '../plan/statements.js';
import type { SourceBlock } from '../plan/state.js';
import { stagingFile, storeStream, storeWritten, type StoredFile } from '../storage/content.js';
import { schemeOf } from '../storage/location.js';
import { objectLocation } from '../storage/objects.js';
import type { ManifestStore } from '../storage/store.js';

/**
 * How attach keeps a source: `auto` (CSV/TSV/JSON converted to Parquet, Parquet copied), `copy`
 * (byte for byte), `parquet` (converted whatever the format; a function source materialised), or
 * `ref` (read in place at every read, checked for changes).
 */
export type SaveAs = 'auto' | 'copy' | 'parquet' | 'ref';

const SAVE_AS: readonly SaveAs[] = ['auto', 'copy', 'parquet', 'ref'];

/** `saveAs` as given (undefined: the default for the source), refusing anything else before any work. */
export function checkSaveAs(value: unknown): SaveAs | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && (SAVE_AS as readonly string[]).includes(value)) return value as SaveAs;
  throw invalidArgument(`Unknown saveAs '${String(value)}'; use ${SAVE_AS.join(', ')}`);
}

/** What happens to one source: stored as a copy, converted to Parquet, or referenced. */
export type Storage = 'copy' | 'parquet' | 'ref';

/**
 * The storage of a source read as `block.format`: `saveAs` resolved. A function source and a
 * remote object default to `ref` (the function runs at read time; the object is cached; `auto`
 * given explicitly fetches the object once into the bundle); so does every source of a bundle with
 * nowhere to store it (`canStore` false: a bundle on a web server).
 */
export function storageFor(saveAs: SaveAs | undefined, block: Pick<SourceBlock, 'format'>, source: string, remote: boolean, canStore: boolean): Storage {
  const isFunction = block.format === 'function';
  const byDefault = saveAs === undefined || saveAs === 'auto';
  if (saveAs === 'ref' || (saveAs === undefined && remote) || (byDefault && (isFunction || !canStore))) return 'ref';
  if (isFunction && saveAs === 'copy') throw invalidArgument(`'${source}' is a function source: it has no file to copy; use saveAs 'parquet' to store its rows, or 'ref'`);
  if (!canStore) throw invalidArgument(`Cannot store '${source}': this bundle has no local directory to store data in; attach it with saveAs 'ref'`);
  if (saveAs === 'copy' || saveAs === 'parquet') return saveAs;
  return block.format === 'parquet' ? 'copy' : 'parquet';
}

/** One source to store in the bundle's store directory `dir`. */
export interface StoreRequest {
  dir: string;
  /** The source as attached, for messages and the stored file's extension. */
  source: string;
  /** How to read it: a local file (the source, or a remote object's cached copy) or a function table. */
  block: SourceBlock;
  storage: Exclude<Storage, 'ref'>;
  /** A database that may read the source and write `extraFiles`. */
  database: (extraFiles: string[]) => Promise<EngineDatabase>;
  /** Copies report bytes (`rowsProcessed` of `totalRows`), conversions DuckDB's progress. */
  onProgress?: ProgressListener;
}

/**
 * Stores a source inside a bundle, content-addressed (storage/content.ts): a copy streams its bytes
 * through a hash; a conversion has DuckDB write the Parquet (streaming, constant memory) and is
 * hashed afterwards. Returns the stored file's path (relative to `dir`) and hash. This is the one
 * entry point for storing: whatever the source's origin, hand it a readable block.
 */
export async function storeSource(request: StoreRequest): Promise<StoredFile> {
  const { dir, block, source } = request;
  if (request.storage === 'copy') {
    const { size } = await stat(block.location);
    return storeStream(dir, createReadStream(block.location), copyExtension(source, block.format), byteProgress(size, request.onProgress));
  }
  await mkdir(dir, { recursive: true }).catch((err: unknown) => {
    throw ioError(`Cannot create ${dir} to store '${source}' in: ${errorMessage(err)}`, err);
  });
  const target = stagingFile(dir, 'parquet');
  try {
    const readable = block.format === 'function' ? [] : [block.location];
    const database = await request.database([...readable, target, path.join(dir, `tmp_${path.basename(target)}`)]);
    if (block.format === 'function') await ensureTableFunction(functionName(source), database);
    const connection = await database.connect();
    try {
      const convert = () => connection.execute(convertToParquet(block, target), `Storing ${source} as Parquet`);
      await connection.withProgress(convert, request.onProgress);
    } finally {
      connection.close();
    }
    return await storeWritten(dir, target, 'parquet');
  } finally {
    await rm(target, { force: true });
  }
}

/** A copy keeps its source's extension (compression included), so it is read as the source was. */
function copyExtension(source: string, format: string): string {
  const name = path.basename(source.replace(/[?#].*$/, '')).toLowerCase();
  return /\.((parquet|pq|csv|tsv|txt|json|jsonl|ndjson)(\.(gz|zst))?)$/.exec(name)?.[1] ?? format;
}

/** Progress of a copy of `total` bytes, reported at each whole percent. */
function byteProgress(total: number, onProgress: ProgressListener | undefined): ((copied: number) => void) | undefined {
  if (!onProgress) return undefined;
  let reported = -1;
  return (copied) => {
    const percentage = total === 0 ? 100 : Math.floor((100 * copied) / total);
    if (percentage === reported) return;
    reported = percentage;
    onProgress({ percentage, rowsProcessed: copied, totalRows: total });
  };
}

/**
 * Where a bundle stores data: its directory; for an in-memory bundle a directory of its own in
 * the process's private temporary directory (removed at exit, or when its last handle closes);
 * for a bundle in a bucket a staging directory there, whose files a commit uploads beside the
 * bundle (commit.ts); none for a bundle on a web server (read-only).
 */
export function storeDirOf(store: ManifestStore): string | undefined {
  if (store.dir !== undefined) return store.dir;
  if (schemeOf(store.url) === 'memory') return memoryStoreDir(store.url);
  const bucket = objectLocation(store.url);
  return bucket && bucket.scheme !== 'http' ? privateDirOf('staged', store.url) : undefined;
}

function memoryStoreDir(url: string): string {
  return privateDirOf('memory', url);
}

function privateDirOf(kind: string, url: string): string {
  return path.join(privateTempDir(), kind, createHash('sha256').update(url).digest('hex').slice(0, 16));
}

/** Open handles (bundles, builders) per in-memory bundle: its stored files go with the last one. */
const memoryHandles = new Map<string, number>();

/** Counts a handle on `store` when it is in memory (see releaseStore). */
export function holdStore(store: ManifestStore): void {
  if (store.dir !== undefined || schemeOf(store.url) !== 'memory') return;
  memoryHandles.set(store.url, (memoryHandles.get(store.url) ?? 0) + 1);
}

/** Releases a handle taken by holdStore; the last one of an in-memory bundle removes its stored files. */
export async function releaseStore(store: ManifestStore): Promise<void> {
  const held = memoryHandles.get(store.url);
  if (held === undefined) return;
  if (held > 1) {
    memoryHandles.set(store.url, held - 1);
    return;
  }
  memoryHandles.delete(store.url);
  await rm(memoryStoreDir(store.url), { recursive: true, force: true });
}
