import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { invalidArgument } from '../errors.js';
import type { Settings } from './config.js';
import { codeOf, statusOf, uploadPartSize, type ObjectBackend, type ObjectLocation } from './objects.js';

/** S3's multipart limits: parts of at least 5 MB (8 here), at most 10,000 of them. */
const UPLOAD_PART_BYTES = 8 * 1024 * 1024;
const MAX_UPLOAD_PARTS = 10_000;

/** Few, short retries: a wrong endpoint or credentials must fail in seconds, not minutes. */
export const REQUEST_LIMITS = { maxAttempts: 2, connectionTimeout: 5_000, requestTimeout: 60_000 };

/** An S3 client for `url` from config, else the SDK's own environment variables and profiles. */
export function s3Client(url: string, settings: Settings): S3Client {
  // the SDK warns on stderr about its future Node support on every run: not the user's concern here
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const endpoint = settings.get('s3.endpoint', url);
  if (endpoint !== undefined && /^http:/i.test(endpoint) && !settings.flag('s3.allow_http', url)) {
    throw invalidArgument(`s3.endpoint ${endpoint} for ${url} is plain HTTP: set s3.allow_http to true to allow it`);
  }
  const accessKeyId = settings.get('s3.access_key_id', url);
  const secretAccessKey = settings.get('s3.secret_access_key', url);
  const sessionToken = settings.get('s3.session_token', url);
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw invalidArgument(`Set both s3.access_key_id and s3.secret_access_key for ${url}, or neither (the AWS environment and profiles apply then)`);
  }
  const region = settings.get('s3.region', url) ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  return new S3Client({
    // an S3-compatible server (MinIO, …) usually has no regions; AWS itself needs the real one
    region: region ?? (endpoint !== undefined ? 'us-east-1' : undefined),
    ...(endpoint !== undefined ? { endpoint, forcePathStyle: !settings.flag('s3.virtual_hosted_style_request', url) } : {}),
    ...(accessKeyId !== undefined ? { credentials: { accessKeyId, secretAccessKey: secretAccessKey!, ...(sessionToken ? { sessionToken } : {}) } } : {}),
    maxAttempts: REQUEST_LIMITS.maxAttempts,
    requestHandler: { connectionTimeout: REQUEST_LIMITS.connectionTimeout, requestTimeout: REQUEST_LIMITS.requestTimeout },
  });
}

const isMissingKey = (err: unknown) => ['NoSuchKey', 'NotFound'].includes(codeOf(err)) || (statusOf(err) === 404 && codeOf(err) !== 'NoSuchBucket');

export async function createBackend(location: ObjectLocation, url: string, settings: Settings): Promise<ObjectBackend> {
  const client = s3Client(url, settings);
  const Bucket = location.bucket;
  const backend: ObjectBackend = {
    list: (prefix) => listKeys(client, Bucket, prefix, '/'),
    listAll: (prefix) => listKeys(client, Bucket, prefix, undefined),
    async get(Key) {
      const body = await getObject(client, Bucket, Key);
      return body && (await body.transformToByteArray());
    },
    async download(Key) {
      return (await getObject(client, Bucket, Key)) as Readable | undefined;
    },
    async head(Key) {
      try {
        const found = await client.send(new HeadObjectCommand({ Bucket, Key }));
        return { size: found.ContentLength ?? 0, version: found.VersionId ?? found.ETag ?? String(found.LastModified?.getTime()) };
      } catch (err) {
        if (isMissingKey(err)) return undefined;
        throw err;
      }
    },
    async upload(Key, file) {
      // a file larger than one part goes in parts, 4 at a time: memory stays bounded whatever its size
      const partSize = uploadPartSize((await stat(file)).size, UPLOAD_PART_BYTES, MAX_UPLOAD_PARTS);
      await new Upload({ client, params: { Bucket, Key, Body: createReadStream(file) }, partSize, queueSize: 4 }).done();
    },
    async putIfAbsent(Key, bytes) {
      // servers that ignore If-None-Match (some emulators) still see an existing file first
      if (await backend.head(Key)) return false;
      try {
        await client.send(new PutObjectCommand({ Bucket, Key, Body: bytes, IfNoneMatch: '*' }));
        return true;
      } catch (err) {
        // 412: it exists; 409: a concurrent conditional write to it is in progress
        if (statusOf(err) === 412 || statusOf(err) === 409 || codeOf(err) === 'PreconditionFailed') return false;
        throw err;
      }
    },
    async delete(Key) {
      await client.send(new DeleteObjectCommand({ Bucket, Key }));
    },
  };
  return backend;
}

async function listKeys(client: S3Client, Bucket: string, prefix: string, Delimiter: string | undefined): Promise<string[]> {
  const names: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: prefix, Delimiter, ContinuationToken }));
    for (const object of page.Contents ?? []) if (object.Key) names.push(object.Key.slice(prefix.length));
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return names;
}

async function getObject(client: S3Client, Bucket: string, Key: string) {
  try {
    return (await client.send(new GetObjectCommand({ Bucket, Key }))).Body;
  } catch (err) {
    if (isMissingKey(err)) return undefined;
    throw err;
  }
}
