import type { PlanState } from '../plan/state.js';
import { resolveSource } from '../storage/location.js';
import { field, listField, optionalNumber, optionalString, type ManifestOp, type Operation, type ReplayContext } from './operation.js';

export interface IndexedBlock {
  id: string;
  /** The block's source version when indexed: a block whose source changed is not served by it. */
  version: string;
}

/** One index file (`idx_<indexId>_<uuid>.idx`, relative to the bundle) covering some blocks. */
export class IndexBlocks implements Operation {
  readonly type = 'indexBlocks';

  constructor(
    readonly indexId: string,
    readonly blocks: IndexedBlock[],
    readonly path: string,
    readonly cardinality: number,
    readonly context: ReplayContext,
  ) {}

  static fromManifest(op: ManifestOp, context: ReplayContext): IndexBlocks {
    const blocks = listField(op, 'blocks', (b) => ({ id: optionalString(b, 'id', op.type) ?? '', version: optionalString(b, 'version', op.type) ?? '' }));
    return new IndexBlocks(field(op, 'indexId'), blocks, field(op, 'path'), optionalNumber(op, 'cardinality') ?? 0, context);
  }

  describe(): string {
    return `Index ${this.blocks.length} block(s) into ${this.path}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, indexId: this.indexId, blocks: this.blocks.map((b) => ({ ...b })), path: this.path, cardinality: this.cardinality };
  }

  /** The index file: in the bundle's directory, or beside a bundle in a bucket (a url, fetched before use). */
  get file(): string {
    return resolveSource(this.path, this.context.baseDir, undefined, this.context.baseUrl);
  }

  apply(state: PlanState): void {
    const file = this.file;
    state.indexes.get(this.indexId)?.files.push({ file, blocks: this.blocks });
  }
}
