import { AnonymousCredential, BlobServiceClient, StorageSharedKeyCredential, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { invalidArgument } from '../errors.js';
import type { Settings } from './config.js';
import { codeOf, statusOf, uploadPartSize, type ObjectBackend, type ObjectLocation } from './objects.js';

/** Blocks of 8 MB (more for a file that would need over Azure's 50,000). */
const UPLOAD_BLOCK_BYTES = 8 * 1024 * 1024;
const MAX_UPLOAD_BLOCKS = 50_000;

/** Few, short retries: a wrong endpoint or credentials must fail in seconds, not minutes. */
const PIPELINE: StoragePipelineOptions = { retryOptions: { maxTries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 1_000, tryTimeoutInMs: 60_000 } };

/**
 * The container of `url`, authenticated by (first found): azure.connection_string, azure.account +
 * azure.access_key, azure.sas_token (each also from AZURE_STORAGE_CONNECTION_STRING,
 * AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY, AZURE_STORAGE_SAS_TOKEN).
 */
export function containerClient(location: ObjectLocation, url: string, settings: Settings): ContainerClient {
  const setting = (key: string, env: string) => settings.get(`azure.${key}`, url) ?? (process.env[env] || undefined);
  const connection = setting('connection_string', 'AZURE_STORAGE_CONNECTION_STRING');
  if (connection !== undefined) return BlobServiceClient.fromConnectionString(connection, PIPELINE).getContainerClient(location.bucket);
  const account = setting('account', 'AZURE_STORAGE_ACCOUNT');
  const endpoint = settings.get('azure.endpoint', url) ?? (account ? `https://${account}.blob.core.windows.net` : undefined);
  if (endpoint === undefined) {
    throw invalidArgument(`No Azure account for ${url}: set azure.connection_string, or azure.account with azure.access_key or azure.sas_token (README, "Object storage")`);
  }
  const key = setting('access_key', 'AZURE_STORAGE_KEY');
  const sas = setting('sas_token', 'AZURE_STORAGE_SAS_TOKEN');
  if (key !== undefined && account !== undefined) {
    return new BlobServiceClient(endpoint, new StorageSharedKeyCredential(account, key), PIPELINE).getContainerClient(location.bucket);
  }
  const query = sas === undefined ? '' : `?${sas.replace(/^\?/, '')}`;
  return new BlobServiceClient(`${endpoint.replace(/\/+$/, '')}${query}`, new AnonymousCredential(), PIPELINE).getContainerClient(location.bucket);
}

export async function createBackend(location: ObjectLocation, url: string, settings: Settings): Promise<ObjectBackend> {
  const container = containerClient(location, url, settings);
  const backend: ObjectBackend = {
    async list(prefix) {
      const names: string[] = [];
      for await (const item of container.listBlobsByHierarchy('/', { prefix })) if (item.kind === 'blob') names.push(item.name.slice(prefix.length));
      return names;
    },
    async listAll(prefix) {
      const names: string[] = [];
      for await (const item of container.listBlobsFlat({ prefix })) names.push(item.name.slice(prefix.length));
      return names;
    },
    async get(key) {
      const body = await backend.download(key);
      if (!body) return undefined;
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    async download(key) {
      try {
        return (await container.getBlobClient(key).download()).readableStreamBody as Readable;
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async head(key) {
      try {
        const found = await container.getBlobClient(key).getProperties();
        return { size: found.contentLength ?? 0, version: found.versionId ?? found.etag ?? String(found.lastModified?.getTime()) };
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async upload(key, file) {
      // a file larger than one block goes in blocks, 4 at a time: memory stays bounded whatever its size
      const blockSize = uploadPartSize((await stat(file)).size, UPLOAD_BLOCK_BYTES, MAX_UPLOAD_BLOCKS);
      await container.getBlockBlobClient(key).uploadFile(file, { blockSize, maxSingleShotSize: blockSize, concurrency: 4 });
    },
    async putIfAbsent(key, bytes) {
      try {
        await container.getBlockBlobClient(key).upload(bytes, bytes.length, { conditions: { ifNoneMatch: '*' } });
        return true;
      } catch (err) {
        // 409 BlobAlreadyExists: it exists; 412: a concurrent conditional write won
        if (codeOf(err) === 'BlobAlreadyExists' || statusOf(err) === 412) return false;
        throw err;
      }
    },
    async delete(key) {
      await container.getBlobClient(key).deleteIfExists();
    },
  };
  return backend;
}

/** A missing blob (a HEAD answers 404 without a body, so without an error code). */
const isMissing = (err: unknown) => codeOf(err) === 'BlobNotFound' || (statusOf(err) === 404 && codeOf(err) !== 'ContainerNotFound');
