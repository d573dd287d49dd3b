import { mkdtemp, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { privateTempDir } from '../engine/engine.js';
import { leadingEqualities } from '../plan/equalities.js';
import type { PlanState, SourceBlock } from '../plan/state.js';
import { lookupIndexFile, readIndexHeader, type IndexHeader, type SectionInfo } from './file.js';

/** What an index lookup did for one read, and how to clean up after it. */
export interface Narrowing {
  /** Blocks read through an index: their id and how many candidate records were read. */
  used: { blockId: string; column: string; records: number }[];
  cleanup(): Promise<void>;
}

/**
 * Narrows the read of indexed CSV / JSON blocks: when the leading filters pin an indexed column to
 * values, each covered block is replaced by a temporary file holding only its candidate records
 * (same dialect, same column types). The filters still run on top, so the result is unchanged;
 * a block whose source changed since it was indexed is read in full.
 */
export async function narrowByIndexes(state: PlanState): Promise<Narrowing> {
  const wanted = leadingEqualities(state);
  const used: Narrowing['used'] = [];
  let dir: string | undefined;
  const blocks = state.baseBlocks();
  const cleanup = async () => (dir ? rm(dir, { recursive: true, force: true }) : undefined);
  try {
    for (const index of state.indexes.values()) {
      const values = wanted.get(index.column);
      if (!values || !oneTypeFamily(blocks, index.column)) continue;
      for (const { file, blocks: covered } of index.files) {
        for (const [blockId, section] of await lookupIndexFile(file, values)) {
          // only blocks the replayed index still covers (a detached or replaced block is forgotten)
          if (!covered.some((c) => c.id === blockId && c.version === section.version)) continue;
          const at = blocks.findIndex((b) => b.id === blockId && !b.narrowed);
          const block = blocks[at];
          if (!block || block.version !== section.version) continue;
          dir ??= await mkdtemp(path.join(privateTempDir(), 'lookup-'));
          blocks[at] = await sliceBlock(block, section, path.join(dir, `${blockId}.${block.format}`));
          used.push({ blockId, column: index.column, records: section.ranges.length });
        }
      }
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { used, cleanup };
}

/** What kind of values an Arrow type holds, as far as comparing them goes. */
const typeFamily = (arrowType: string) => (/^U?Int\d+$/.test(arrowType) ? 'integer' : /^(?:Large)?Utf8$/.test(arrowType) ? 'text' : arrowType);

/**
 * Whether every block with `column` holds it in one family of types (known from attach). Blocks
 * of different types are read as one column of a wider type (BIGINT beside DOUBLE compares as
 * DOUBLE, where 9007199254740993 equals 9007199254740992), which an index of one block's values
 * does not follow: such reads go in full.
 */
function oneTypeFamily(blocks: readonly SourceBlock[], column: string): boolean {
  const families = new Set<string>();
  for (const block of blocks) {
    if (!block.columnTypes) return false;
    const type = block.columnTypes[column];
    if (type !== undefined) families.add(typeFamily(type));
  }
  return families.size <= 1;
}

/** Writes a block's candidate records (after its header line, for CSV) to `target`. */
async function sliceBlock(block: SourceBlock, section: SectionInfo & { ranges: [number, number][] }, target: string): Promise<SourceBlock> {
  const source = await open(block.location, 'r');
  const out = await open(target, 'wx');
  try {
    if (section.csv?.header) await out.write(await firstLine(source));
    // records end as the file's lines do ("\r\n" or "\n"): the sniffed read options name one of them
    let ending: Buffer | undefined;
    for (const [offset, length] of section.ranges) {
      const bytes = Buffer.alloc(length + 2);
      const { bytesRead } = await source.read(bytes, 0, length + 2, offset);
      ending ??= bytesRead > length && bytes[length] === 13 ? Buffer.from('\r\n') : Buffer.from('\n');
      ending.copy(bytes, length);
      await out.write(bytes.subarray(0, length + ending.length));
    }
  } finally {
    await Promise.all([source.close(), out.close()]);
  }
  return { ...block, location: target, columns: section.columns, csv: section.csv, readOptions: section.readOptions, narrowed: true };
}

/** Index headers already read, by file: they never change (files are written once). */
const headers = new Map<string, Promise<IndexHeader>>();

/**
 * Gives each CSV block covered by an index (for its current version) the read_csv options DuckDB
 * sniffed when indexing it, so describing and reading the file skip the sniffer.
 */
export async function applyKnownLayouts(state: PlanState): Promise<void> {
  const files = [...state.indexes.values()].flatMap((index) => index.files.map((f) => f.file));
  if (files.length === 0) return;
  const blocks = state.baseBlocks();
  for (const file of files) {
    let header = headers.get(file);
    if (!header) {
      header = readIndexHeader(file);
      headers.set(file, header);
      header.catch(() => headers.delete(file));
    }
    for (const section of (await header).blocks) {
      const at = blocks.findIndex((b) => b.id === section.id && b.version === section.version && b.format === 'csv');
      if (at >= 0 && section.readOptions !== undefined && !blocks[at]!.narrowed) blocks[at] = { ...blocks[at]!, readOptions: section.readOptions };
    }
  }
}

async function firstLine(handle: import('node:fs/promises').FileHandle): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let position = 0; ; ) {
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    const newline = buffer.subarray(0, bytesRead).indexOf(10);
    if (newline >= 0 || bytesRead === 0) {
      parts.push(buffer.subarray(0, newline >= 0 ? newline + 1 : bytesRead));
      return Buffer.concat(parts);
    }
    parts.push(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}
