/**
 * The S3 calls the `s3://` store makes, and nothing else: one method per request, raw S3
 * keys, native SDK errors (translated above, in s3-errors.ts). Keeping the SDK behind this
 * small surface lets the store logic be read without the SDK's vocabulary, and keeps every
 * client setting that matters for Ceph RGW, MinIO and AWS S3 in one place.
 */
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3ClientSettings {
  bucket: string;
  /** e.g. `http://127.0.0.1:7480`; omit for AWS S3. */
  endpoint?: string;
  region: string;
  /** `http://host/bucket/key` instead of `http://bucket.host/key`; what RGW and MinIO expect. */
  forcePathStyle: boolean;
  /** Omit to use the SDK's default chain (environment, profile, instance role). */
  credentials?: S3Credentials;
  /** Tries per request, the first included (network errors, 5xx, throttling). */
  maxAttempts: number;
  /** Give up connecting after this long: an unreachable endpoint fails fast. */
  connectTimeoutMs: number;
  /** Give up on a connection that sends nothing for this long (a hung gateway). */
  socketTimeoutMs: number;
}

export interface PutObjectInput {
  key: string;
  body: Buffer | Readable;
  /** Required: streams are sent with a Content-Length, never `aws-chunked`. */
  length: number;
  ifNoneMatch?: boolean;
  contentType?: string;
  signal?: AbortSignal;
}

export interface ObjectHead {
  size: number;
  modifiedAt: number;
  etag?: string;
}

export interface ObjectsPage {
  objects: Array<{ key: string; size: number }>;
  /** More keys follow the last one returned. */
  truncated: boolean;
}

export interface CompletedPart {
  PartNumber: number;
  ETag: string;
}

const SILENT = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export class S3Calls {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly region: string;

  constructor(settings: S3ClientSettings) {
    this.bucket = settings.bucket;
    this.region = settings.region;
    this.client = new S3Client({
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      maxAttempts: settings.maxAttempts,
      ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
      ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }),
      // The SDK's default sends streams `aws-chunked` with a trailing checksum, which
      // Ceph Pacific's RGW refuses (411 MissingContentLength); ask for checksums only
      // where S3 requires them (multi-object delete).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { connectionTimeout: settings.connectTimeoutMs, socketTimeout: settings.socketTimeoutMs },
      // The SDK would print to the console (e.g. when a streamed PUT fails and cannot be
      // retried); every failure reaches the store as an error, which says it better.
      logger: SILENT,
    });
  }

  /** Creates the bucket unless it exists (and is ours). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
    }
    try {
      // us-east-1 is S3's default and must not be named; RGW and MinIO accept either.
      const location = this.region === 'us-east-1' ? undefined : (this.region as BucketLocationConstraint);
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          ...(location === undefined ? {} : { CreateBucketConfiguration: { LocationConstraint: location } }),
        }),
      );
    } catch (err) {
      if ((err as { name?: unknown }).name !== 'BucketAlreadyOwnedByYou') throw err;
    }
  }

  /** Returns the new object's ETag. */
  async putObject(input: PutObjectInput): Promise<string | undefined> {
    const out = await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: input.key,
        Body: input.body,
        ContentLength: input.length,
        ...(input.ifNoneMatch ? { IfNoneMatch: '*' } : {}),
        ...(input.contentType === undefined ? {} : { ContentType: input.contentType }),
      }),
      { abortSignal: input.signal },
    );
    return out.ETag;
  }

  /** Returns the upload id. */
  async createMultipartUpload(key: string, contentType: string | undefined, signal?: AbortSignal): Promise<string> {
    const out = await this.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ...(contentType === undefined ? {} : { ContentType: contentType }) }),
      { abortSignal: signal },
    );
    if (out.UploadId === undefined) throw new Error('CreateMultipartUpload answered without an UploadId');
    return out.UploadId;
  }

  /** Returns the part's ETag. */
  async uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer, signal?: AbortSignal): Promise<string> {
    const out = await this.client.send(
      new UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length }),
      { abortSignal: signal },
    );
    if (out.ETag === undefined) throw new Error(`UploadPart ${partNumber} answered without an ETag`);
    return out.ETag;
  }

  async completeMultipartUpload(key: string, uploadId: string, parts: CompletedPart[], signal?: AbortSignal): Promise<void> {
    // The ETag it returns is empty on RGW (a known bug); callers that need one use headObject.
    await this.client.send(
      new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      { abortSignal: signal },
    );
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
  }

  async getObject(key: string): Promise<{ body: Readable; size: number }> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    // In Node the SDK's body is the http.IncomingMessage, a Readable.
    const body = out.Body as Readable | undefined;
    if (body === undefined) throw new Error('GetObject answered without a body');
    return { body, size: out.ContentLength ?? 0 };
  }

  /** Null when there is no such object. */
  async headObject(key: string): Promise<ObjectHead | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        size: out.ContentLength ?? 0,
        modifiedAt: out.LastModified?.getTime() ?? Number.NaN,
        ...(out.ETag === undefined ? {} : { etag: out.ETag }),
      };
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  /** One ListObjectsV2 page: keys under `prefix` strictly after `startAfter`, in UTF-8 byte order. */
  async listObjects(prefix: string, startAfter: string | undefined, maxKeys: number): Promise<ObjectsPage> {
    const out = await this.client.send(
      new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: prefix,
        MaxKeys: maxKeys,
        ...(startAfter === undefined ? {} : { StartAfter: startAfter }),
      }),
    );
    const objects = (out.Contents ?? []).flatMap((o) => (o.Key === undefined ? [] : [{ key: o.Key, size: o.Size ?? 0 }]));
    return { objects, truncated: out.IsTruncated === true };
  }

  async deleteObject(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** Deletes up to 1,000 keys in one request; returns the keys that failed, with S3's code. */
  async deleteObjects(keys: string[]): Promise<Array<{ key: string; code: string }>> {
    const out = await this.client.send(
      new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } }),
    );
    return (out.Errors ?? []).map((e) => ({ key: e.Key ?? '', code: e.Code ?? 'unknown' }));
  }

  /** Closes idle and open connections. */
  destroy(): void {
    this.client.destroy();
  }
}

/** The HTTP status of an SDK error, when the service answered. */
export function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const meta = (err as { $metadata?: { httpStatusCode?: unknown } }).$metadata;
  return typeof meta?.httpStatusCode === 'number' ? meta.httpStatusCode : undefined;
}
