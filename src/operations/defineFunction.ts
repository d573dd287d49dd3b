import type { PlanState } from '../plan/state.js';
import { invalidArgument } from '../errors.js';
import { compact, optionalRecord, optionalString, type ManifestOp, type Operation } from './operation.js';

export interface FunctionSignature {
  name: string;
  /** Column name → Arrow type name, in column order. */
  output: Record<string, string>;
  version?: string;
}

/**
 * Records the signature of a programmatic source read as `function://name`. The implementation is
 * not stored: each process defines it again (reading without it is a NOT_FOUND naming it).
 */
export class DefineFunction implements Operation {
  readonly type = 'defineFunction';

  constructor(readonly signature: FunctionSignature) {}

  static fromManifest(op: ManifestOp): DefineFunction {
    const signature = optionalRecord(op, 'signature');
    const output = signature && optionalRecord(signature, 'output', op.type);
    const name = signature && optionalString(signature, 'name', op.type);
    if (!signature || !output || !name || !Object.values(output).every((t) => typeof t === 'string')) {
      throw invalidArgument("Operation 'defineFunction' needs a 'signature' with a name and an output of column → type name");
    }
    return new DefineFunction({ name, output: output as Record<string, string>, version: optionalString(signature, 'version', op.type) });
  }

  describe(): string {
    return `Define function ${this.signature.name}`;
  }

  toManifest(): ManifestOp {
    const { name, output, version } = this.signature;
    return { type: this.type, signature: compact({ name, output: { ...output }, version }) };
  }

  apply(state: PlanState): void {
    state.functions.set(this.signature.name, this.signature);
  }
}
