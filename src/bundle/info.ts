import type * as arrow from 'apache-arrow';
import { attachedBlocks } from '../operations/blocks.js';
import type { Operation } from '../operations/operation.js';
import type { InfoCell, InfoTableName } from '../plan/info.js';
import type { PlanState } from '../plan/state.js';
import { isSecretConfigKey } from '../storage/config.js';
import type { CommitRecord } from './load.js';
import type { Change } from './types.js';

/** What the `bundle_info` tables are made from: one bundle at one point of its pipeline. */
export interface InfoSources {
  commits: readonly CommitRecord[];
  /** Uncommitted changes. */
  changes: readonly Change[];
  operations: readonly Operation[];
  state: PlanState;
  /** The bundle's columns (a describe, no scan): only asked for by `columns`. */
  schema: () => Promise<arrow.Schema>;
}

/** The rows of one `bundle_info` table, in the column order plan/info.ts gives it. */
export async function infoRows(name: InfoTableName, from: InfoSources): Promise<InfoCell[][]> {
  const { state } = from;
  switch (name) {
    case 'history':
      return from.commits.map((c, i) => [i, c.version, c.url, c.doc.author, c.doc.message, c.doc.timestamp, c.changes.length]);
    case 'status':
      return from.changes.map((c, i) => [i, c.id, c.description, c.operations.length]);
    case 'blocks': {
      const packNames = new Map([...state.joins].map(([join, packId]) => [packId, join]));
      return attachedBlocks(from.operations).map((b) => {
        const f = b.fields;
        const pack = f.packId === state.basePackId ? 'base' : (packNames.get(f.packId) ?? f.packId);
        return [f.id, f.version ?? null, f.packId, pack, null, 1, [f.source], [f.version ?? null], b.format, f.numRows ?? null];
      });
    }
    case 'indexes':
      return [...state.indexes].map(([id, index]) => [id, index.column, index.column, 'column', null]);
    case 'views':
      return [...state.views].sort(([, a], [, b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, view]) => [id, view]);
    case 'config':
      return [...state.config].map(([scoped, entry]) => {
        const key = entry.urlPrefix === undefined ? scoped : scoped.slice(entry.urlPrefix.length + 1);
        // a secret's stored value is only an env:NAME reference, never the secret itself
        return [entry.urlPrefix ?? null, key, entry.value, 'stored', true, isSecretConfigKey(key)];
      });
    case 'columns':
      return (await from.schema()).fields.map((f) => [f.name, String(f.type), f.nullable ? 'Yes' : 'No']);
  }
}
