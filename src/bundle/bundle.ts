import type { ParamValue } from '../engine/params.js';
import type { Operation } from '../operations/operation.js';
import { BundleBase } from './base.js';
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
    return new BuilderChain(Promise.resolve().then(() => extendBundle(this.loaded, openBundle, dataDir)));
  }

  /** A new builder whose rows are the result of `sql` over the table `bundle`. */
  select(sql: string, params?: ParamValue[]): BuilderChain {
    return new BundleBuilder(this.loaded, openBundle).select(sql, params);
  }

  async view(nameOrId: string): Promise<Bundle> {
    return new Bundle(await this.loadView(nameOrId));
  }
}

/** How builders open committed views: as Bundles (passed in, so builder.ts needs no import of this module). */
export const openBundle = (loaded: LoadedBundle): Bundle => new Bundle(loaded);
