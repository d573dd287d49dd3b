import { invalidArgument, ioError } from '../errors.js';
import { AttachBlock } from './attachBlock.js';
import { CreateIndex } from './createIndex.js';
import { CreateView } from './createView.js';
import { DropIndex } from './dropIndex.js';
import { IndexBlocks } from './indexBlocks.js';
import { RebuildIndex } from './rebuildIndex.js';
import { DefineFunction } from './defineFunction.js';
import { DefinePack } from './definePack.js';
import { DropView } from './dropView.js';
import { Filter } from './filter.js';
import { Join } from './join.js';
import { SetConfig, SetDescription, SetName } from './metadata.js';
import type { ManifestOp, Operation, ReplayContext } from './operation.js';
import { RemoveColumns } from './removeColumns.js';
import { RenameColumn } from './renameColumn.js';
import { RenameView } from './renameView.js';
import { Select } from './select.js';

type Factory = (op: ManifestOp, context: ReplayContext) => Operation;

const FACTORIES: Record<string, Factory> = {
  definePack: DefinePack.fromManifest,
  defineFunction: DefineFunction.fromManifest,
  attachBlock: AttachBlock.fromManifest,
  filter: Filter.fromManifest,
  join: Join.fromManifest,
  select: Select.fromManifest,
  removeColumns: RemoveColumns.fromManifest,
  renameColumn: RenameColumn.fromManifest,
  setName: SetName.fromManifest,
  setDescription: SetDescription.fromManifest,
  setConfig: SetConfig.fromManifest,
  createView: CreateView.fromManifest,
  renameView: RenameView.fromManifest,
  dropView: DropView.fromManifest,
  createIndex: CreateIndex.fromManifest,
  indexBlocks: IndexBlocks.fromManifest,
  dropIndex: DropIndex.fromManifest,
  rebuildIndex: RebuildIndex.fromManifest,
};

/** Registers the factory for a manifest operation type (used by the modules that add operations). */
export function registerOperation(type: string, factory: Factory): void {
  FACTORIES[type] = factory;
}

/** Rebuilds an operation from its manifest entry; an unknown type is an error naming it and the file. */
export function operationFromManifest(op: ManifestOp, context: ReplayContext, file: string): Operation {
  const factory = Object.hasOwn(FACTORIES, op.type) ? FACTORIES[op.type] : undefined;
  if (!factory) {
    throw invalidArgument(`Unknown operation type '${op.type}' in manifest ${file}`);
  }
  try {
    return factory(op, context);
  } catch (err) {
    // a manifest whose fields are missing or mistyped is damaged data, not a bad argument
    throw ioError(`Invalid '${op.type}' operation in manifest ${file}: ${(err as Error).message}`, err);
  }
}
