import type { AttachOptions, BundleBuilder } from './builder.js';
import type { ParamValue } from '../engine/params.js';
import type { FunctionDefinition } from '../engine/functions.js';
import type * as arrow from 'apache-arrow';
import type { CountOptions, ExportOptions, ProgressListener, StreamOptions } from './types.js';

/**
 * What a mutating builder call returns: awaitable (resolves to the builder once the operation is
 * recorded, or rejects with its error) and chainable (`b.attach(x).filter(y)`), calls running in order.
 */
export class BuilderChain implements PromiseLike<BundleBuilder> {
  constructor(private readonly done: Promise<BundleBuilder>) {}

  then<A = BundleBuilder, B = never>(
    onFulfilled?: ((value: BundleBuilder) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.done.then(onFulfilled, onRejected);
  }

  catch<B = never>(onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<BundleBuilder | B> {
    return this.done.catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<BundleBuilder> {
    return this.done.finally(onFinally);
  }

  /** Like the builder's `stream()`: returned at once, reading starts when iterated. */
  stream(options?: StreamOptions): AsyncIterable<arrow.RecordBatch> {
    const done = this.done;
    return {
      async *[Symbol.asyncIterator]() {
        yield* (await done).stream(options);
      },
    };
  }

}


/** The reads a chain offers: they run once every call before them has been recorded. */
const READS = ['schema', 'numRows', 'explain', 'toArrow', 'toObjects', 'toColumns', 'export', 'diff', 'commit'] as const satisfies readonly (keyof BundleBuilder)[];
type Reading = (typeof READS)[number];

type Method<K extends keyof BundleBuilder> = BundleBuilder[K] extends (...args: infer A) => infer R ? (...args: A) => R : never;

/** Every recording method, forwarded in order; every read, after the calls before it. */
export interface BuilderChain extends ChainedRecording, ChainedReads {}
type ChainedRecording = { [K in Recording]: Method<K> };
type ChainedReads = { [K in Reading]: Method<K> };

/** The builder's methods that record a change, each once (checked against the builder below). */
const RECORDING = {
  attach: true,
  join: true,
  defineFunction: true,
  createIndex: true,
  dropIndex: true,
  rebuildIndex: true,
  reindex: true,
  filter: true,
  removeColumn: true,
  removeColumns: true,
  renameColumn: true,
  setName: true,
  setDescription: true,
  setConfig: true,
  createView: true,
  renameView: true,
  dropView: true,
  select: true,
  extend: true,
  undo: true,
  reset: true,
} as const satisfies { readonly [K in keyof BundleBuilder]?: true };
type Recording = keyof typeof RECORDING;

/** Builder methods returning a chain that the chain does not forward: must be none. */
type Unforwarded = Exclude<{ [K in keyof BundleBuilder]: BundleBuilder[K] extends (...args: never[]) => BuilderChain ? K : never }[keyof BundleBuilder], Recording>;
const everyRecordingMethodForwarded: [Unforwarded] extends [never] ? true : Unforwarded = true;
void everyRecordingMethodForwarded;

type AnyMethod = (this: BundleBuilder, ...args: unknown[]) => unknown;
const prototype = BuilderChain.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
for (const name of Object.keys(RECORDING)) {
  prototype[name] = function (this: BuilderChain, ...args: unknown[]) {
    return new BuilderChain(this.then((b) => (b[name as Recording] as unknown as AnyMethod).apply(b, args) as PromiseLike<BundleBuilder>));
  };
}
for (const name of READS) {
  prototype[name] = function (this: BuilderChain, ...args: unknown[]) {
    return this.then((b) => (b[name] as unknown as AnyMethod).apply(b, args));
  };
}
