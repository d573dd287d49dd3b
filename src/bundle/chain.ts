import type * as arrow from 'apache-arrow';
import type { StreamOptions } from './types.js';

/** What a chain needs of the builder it resolves to. */
interface Streams {
  stream(options?: StreamOptions): AsyncIterable<arrow.RecordBatch>;
}

/**
 * What a mutating builder call returns: awaitable (resolves to the builder once the operation is
 * recorded, or rejects with its error) and chainable (`b.attach(x).filter(y)`), calls running in
 * order. Generic over the builder, so this module needs none: builder.ts derives `BuilderChain`.
 */
export class Chain<B extends Streams> implements PromiseLike<B> {
  constructor(private readonly done: Promise<B>) {}

  then<A = B, E = never>(
    onFulfilled?: ((value: B) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => E | PromiseLike<E>) | null,
  ): Promise<A | E> {
    return this.done.then(onFulfilled, onRejected);
  }

  catch<E = never>(onRejected?: ((reason: unknown) => E | PromiseLike<E>) | null): Promise<B | E> {
    return this.done.catch(onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<B> {
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

type AnyMethod = (...args: unknown[]) => unknown;

/**
 * Gives a chain class one method per builder method: `recording` ones return a new chain that runs
 * after this one (`make` builds it), `reads` resolve once every call before them has been recorded.
 */
export function forwardCalls<B extends Streams>(
  chain: { prototype: Chain<B> },
  recording: readonly string[],
  reads: readonly string[],
  make: (done: Promise<B>) => Chain<B>,
): void {
  // the methods are added by name here; the chain's interface (builder.ts) declares their types
  const methods = chain.prototype as unknown as Record<string, AnyMethod>;
  const call = (b: B, name: string, args: unknown[]) => ((b as unknown as Record<string, AnyMethod>)[name]!).apply(b, args);
  for (const name of recording) {
    methods[name] = function (this: Chain<B>, ...args: unknown[]) {
      return make(this.then((b) => call(b, name, args) as PromiseLike<B>));
    };
  }
  for (const name of reads) {
    methods[name] = function (this: Chain<B>, ...args: unknown[]) {
      return this.then((b) => call(b, name, args));
    };
  }
}
