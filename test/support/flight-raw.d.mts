import type * as grpc from '@grpc/grpc-js';

export function flightService(port: number | string, credentials?: grpc.ChannelCredentials, options?: grpc.ChannelOptions): grpc.Client & Record<string, (...args: never[]) => unknown>;
export function statementCommand(sql: string): Buffer;
export function basicAuth(password: string, user?: string): grpc.Metadata;
export function sqlCommand(name: string, value?: object): Buffer;
export function fetchCommand(port: number | string, password: string, cmd: Buffer): Promise<Buffer>;
export function updateCommand(port: number | string, password: string, sql: string): Promise<number>;
