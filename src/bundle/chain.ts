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

  private next(call: (b: BundleBuilder) => PromiseLike<BundleBuilder>): BuilderChain {
    return new BuilderChain(this.done.then(call));
  }

  attach(url: string, options?: AttachOptions): BuilderChain {
    return this.next((b) => b.attach(url, options));
  }

  join(name: string, url: string, on: string, how?: string): BuilderChain {
    return this.next((b) => b.join(name, url, on, how));
  }

  filter(where: string, params?: ParamValue[]): BuilderChain {
    return this.next((b) => b.filter(where, params));
  }

  select(sql: string, params?: ParamValue[]): BuilderChain {
    return this.next((b) => b.select(sql, params));
  }

  removeColumn(name: string): BuilderChain {
    return this.next((b) => b.removeColumn(name));
  }

  removeColumns(names: string[]): BuilderChain {
    return this.next((b) => b.removeColumns(names));
  }

  renameColumn(from: string, to: string): BuilderChain {
    return this.next((b) => b.renameColumn(from, to));
  }

  setName(name: string): BuilderChain {
    return this.next((b) => b.setName(name));
  }

  setDescription(description: string): BuilderChain {
    return this.next((b) => b.setDescription(description));
  }

  setConfig(key: string, value: string, urlPrefix?: string): BuilderChain {
    return this.next((b) => b.setConfig(key, value, urlPrefix));
  }

  createView(name: string, builder: BundleBuilder): BuilderChain {
    return this.next((b) => b.createView(name, builder));
  }

  renameView(from: string, to: string): BuilderChain {
    return this.next((b) => b.renameView(from, to));
  }

  dropView(name: string): BuilderChain {
    return this.next((b) => b.dropView(name));
  }

  defineFunction(definition: FunctionDefinition): BuilderChain {
    return this.next((b) => b.defineFunction(definition));
  }

  createIndex(column: string, options?: { onProgress?: ProgressListener }): BuilderChain {
    return this.next((b) => b.createIndex(column, options));
  }

  dropIndex(column: string): BuilderChain {
    return this.next((b) => b.dropIndex(column));
  }

  rebuildIndex(column: string): BuilderChain {
    return this.next((b) => b.rebuildIndex(column));
  }

  reindex(): BuilderChain {
    return this.next((b) => b.reindex());
  }

  undo(): BuilderChain {
    return this.next((b) => b.undo());
  }

  reset(): BuilderChain {
    return this.next((b) => b.reset());
  }

  extend(dataDir?: string): BuilderChain {
    return this.next((b) => b.extend(dataDir));
  }

  // reads, once every call before them has been recorded: `await b.filter(x).toObjects()`

  schema(): Promise<arrow.Schema> {
    return this.done.then((b) => b.schema());
  }

  numRows(options?: CountOptions): Promise<number> {
    return this.done.then((b) => b.numRows(options));
  }

  explain(): Promise<string> {
    return this.done.then((b) => b.explain());
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

  toArrow(): Promise<arrow.Table> {
    return this.done.then((b) => b.toArrow());
  }

  toObjects(): Promise<Record<string, unknown>[]> {
    return this.done.then((b) => b.toObjects());
  }

  toColumns(): Promise<Record<string, unknown[]>> {
    return this.done.then((b) => b.toColumns());
  }

  export(file: string, options?: ExportOptions): Promise<{ rows: number }> {
    return this.done.then((b) => b.export(file, options));
  }

  /** Commits once every call before it has been recorded. */
  async commit(message: string): Promise<void> {
    await (await this.done).commit(message);
  }
}
