import type { ParamValue } from '../engine/params.js';
import type { Operation } from '../operations/operation.js';
import { BundleBase, setReadOnlyFactory } from './base.js';
import { BundleBuilder, extendBundle } from './builder.js';
import { BuilderChain } from './chain.js';
import { committedOperations, type LoadedBundle } from './load.js';

/** A committed bundle opened for reading. Change it through `extend()`. */
export class Bundle extends BundleBase {
  constructor(loaded: LoadedBundle) {
    super(loaded);
  }

  protected effectiveOperations(): Operation[] {
    return committedOperations(this.loaded);
  }

  /** A builder on top of this bundle: the same bundle without `dataDir`, else a new one extending it. */
  extend(dataDir?: string): BuilderChain {
    return new BuilderChain(Promise.resolve().then(() => extendBundle(this.loaded, dataDir)));
  }

  /** A new builder whose rows are the result of `sql` over the table `bundle`. */
  select(sql: string, params?: ParamValue[]): BuilderChain {
    return new BundleBuilder(this.loaded).select(sql, params);
  }

  override async view(nameOrId: string): Promise<Bundle> {
    return (await super.view(nameOrId)) as Bundle;
  }
}

setReadOnlyFactory((loaded) => new Bundle(loaded));
