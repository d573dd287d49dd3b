/** The package: open and create bundles, serve them; everything a user imports comes from here. */
export { create, open } from './bundle/open.js';
export { Bundle, BundleBuilder, BuilderChain, type AttachOptions, type EditOptions } from './bundle/builder.js';
export type { OpenOptions } from './bundle/load.js';
export type { CreateOptions } from './bundle/open.js';
export type { ConfigInput } from './storage/config.js';
export type { Trust } from './bundle/load.js';
export type { Change, ColumnProfile, Commit, CountOptions, Diff, ExportFormat, ExportOptions, OperationInfo, Progress, ProgressListener, SchemaChange, Status, StreamOptions } from './bundle/types.js';
export type { ExportTarOptions } from './bundle/pack.js';
export type { DataCheck, DataProblem } from './bundle/sources.js';
export type { SaveAs } from './bundle/stored.js';
export type { PushOptions, PushResult } from './bundle/push.js';
export type { StatementResult } from './bundle/execute.js';
export type { Statement } from './language/parse.js';
export { BundlebaseError, type ErrorCode } from './errors.js';
export { serve, DEFAULT_LIMITS, type ServeOptions, type Servers, type ServerLimits, type TlsFiles } from './server/index.js';
export type { ParamValue } from './engine/params.js';
export type { FunctionDefinition, FunctionPage, SourceFunction } from './engine/functions.js';

