import { invalidArgument, ioError } from '../errors.js';
import { AddColumn } from './addColumn.js';
import { AttachBlock } from './attachBlock.js';
import { CastColumn } from './castColumn.js';
import { CreateIndex } from './createIndex.js';
import { CreateView } from './createView.js';
import { DropIndex } from './dropIndex.js';
import { IndexBlocks } from './indexBlocks.js';
import { RebuildIndex } from './rebuildIndex.js';
import { DefineFunction } from './defineFunction.js';
import { DefinePack } from './definePack.js';
import { AlwaysDelete, Delete } from './deleteRows.js';
import { DetachBlock } from './detachBlock.js';
import { DropView } from './dropView.js';
import { Filter } from './filter.js';
import { Join } from './join.js';
import { SetConfig, SetDescription, SetName } from './metadata.js';
import type { ManifestOp, Operation, ReplayContext } from './operation.js';
import { RemoveColumns } from './removeColumns.js';
import { RenameColumn } from './renameColumn.js';
import { RenameView } from './renameView.js';
import { ReplaceBlock } from './replaceBlock.js';
import { Restore } from './restore.js';
import { Select } from './select.js';
import { AlwaysUpdate, UpdateData } from './updateRows.js';

/**
 * Every operation type, by its manifest `type`: the one place a new operation is registered. The
 * operation union and the manifest type names derive from it; a key that is not its operation's
 * `type` is a compile error (below).
 */
const DECODERS = {
  definePack: DefinePack.fromManifest,
  defineFunction: DefineFunction.fromManifest,
  attachBlock: AttachBlock.fromManifest,
  detachBlock: DetachBlock.fromManifest,
  replaceBlock: ReplaceBlock.fromManifest,
  restore: Restore.fromManifest,
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
  delete: Delete.fromManifest,
  alwaysDelete: AlwaysDelete.fromManifest,
  updateData: UpdateData.fromManifest,
  alwaysUpdate: AlwaysUpdate.fromManifest,
  addColumn: AddColumn.fromManifest,
  castColumn: CastColumn.fromManifest,
} satisfies Record<string, (op: ManifestOp, context: ReplayContext) => Operation>;

type Decoders = typeof DECODERS;

/** A manifest operation type this version reads and writes. */
type OperationType = keyof Decoders;

/** Keys whose decoder builds an operation of another `type` (must be none). */
type Misregistered = { [K in OperationType]: ReturnType<Decoders[K]>['type'] extends K ? never : K }[OperationType];
const registeredUnderOwnType: [Misregistered] extends [never] ? true : Misregistered = true;
void registeredUnderOwnType;

function isOperationType(type: string): type is OperationType {
  return Object.hasOwn(DECODERS, type);
}

/** Rebuilds an operation from its manifest entry; an unknown type is an error naming it and the file. */
export function operationFromManifest(op: ManifestOp, context: ReplayContext, file: string): Operation {
  if (!isOperationType(op.type)) {
    throw invalidArgument(`Unknown operation type '${op.type}' in manifest ${file}`);
  }
  try {
    return DECODERS[op.type](op, context);
  } catch (err) {
    // a manifest whose fields are missing or mistyped is damaged data, not a bad argument
    throw ioError(`Invalid '${op.type}' operation in manifest ${file}: ${(err as Error).message}`, err);
  }
}
