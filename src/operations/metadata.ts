import type { PlanState } from '../plan/state.js';
import { compact, field, type ManifestOp, type Operation } from './operation.js';

/** Sets the bundle's name. */
export class SetName implements Operation {
  readonly type = 'setName';

  constructor(readonly name: string) {}

  static fromManifest(op: ManifestOp): SetName {
    return new SetName(field(op, 'name'));
  }

  describe(): string {
    return `Set name to ${this.name}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, name: this.name };
  }

  apply(state: PlanState): void {
    state.name = this.name;
  }
}

/** Sets the bundle's description. */
export class SetDescription implements Operation {
  readonly type = 'setDescription';

  constructor(readonly description: string) {}

  static fromManifest(op: ManifestOp): SetDescription {
    return new SetDescription(field(op, 'description'));
  }

  describe(): string {
    return `Set description to ${this.description}`;
  }

  toManifest(): ManifestOp {
    return { type: this.type, description: this.description };
  }

  apply(state: PlanState): void {
    state.description = this.description;
  }
}

/** Stores a configuration value (e.g. storage credentials), optionally scoped to a URL prefix. */
export class SetConfig implements Operation {
  readonly type = 'setConfig';

  constructor(readonly key: string, readonly value: string, readonly urlPrefix?: string) {}

  static fromManifest(op: ManifestOp): SetConfig {
    const prefix = op.urlPrefix;
    return new SetConfig(field(op, 'key'), field(op, 'value'), typeof prefix === 'string' ? prefix : undefined);
  }

  describe(): string {
    return `Set config ${this.key}`;
  }

  toManifest(): ManifestOp {
    return compact({ type: this.type, key: this.key, value: this.value, urlPrefix: this.urlPrefix });
  }

  apply(state: PlanState): void {
    const scoped = this.urlPrefix === undefined ? this.key : `${this.urlPrefix}|${this.key}`;
    state.config.set(scoped, this.urlPrefix === undefined ? { value: this.value } : { value: this.value, urlPrefix: this.urlPrefix });
  }
}
