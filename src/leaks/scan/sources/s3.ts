import { GetObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { KeyturnError } from '../../../core/errors.js';
import { Collector, type ScanContext, type SourceResult } from '../collect.js';
import { readState, writeState } from '../state.js';

/** Where and how to reach the bucket. Credentials come from the SDK's usual chain unless given. */
export interface S3Options {
  /** An S3-compatible endpoint (MinIO, a local server…); path-style addressing is then used. */
  readonly endpoint?: string;
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Objects fetched at once. */
  readonly concurrency?: number;
}

/** Parses `s3://bucket/prefix`. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m?.[1]) throw new KeyturnError('ERR_VALIDATION', `not an s3 URL: expected s3://bucket/prefix`);
  return { bucket: m[1], prefix: m[2] ?? '' };
}

function client(options: S3Options): S3Client {
  const config: S3ClientConfig = {
    region: options.region ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {}),
    ...(options.credentials ? { credentials: { ...options.credentials } } : {}),
  };
  return new S3Client(config);
}

/**
 * Scans every object under `s3://bucket/prefix`: listed page by page, fetched a few at a time,
 * oversized objects skipped without downloading. With `ctx.stateDir`, objects whose ETag did
 * not change since the last scan are skipped.
 */
export async function scanS3(url: string, ctx: ScanContext, options: S3Options = {}): Promise<SourceResult> {
  const { bucket, prefix } = parseS3Url(url);
  const s3 = client(options);
  const source = `s3:${options.endpoint ?? 'aws'}:${bucket}/${prefix}`;
  const previous = ctx.stateDir ? readState(ctx.stateDir, source) : undefined;
  const stamps: Record<string, string> = {};
  const collector = new Collector(ctx);
  const max = ctx.pool.engine.maxFileBytes;
  const concurrency = options.concurrency ?? 8;
  try {
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      const objects = (page.Contents ?? []).filter((o) => o.Key !== undefined && !o.Key.endsWith('/'));
      const todo: { key: string; size: number }[] = [];
      for (const o of objects) {
        const key = o.Key as string;
        stamps[key] = `${o.ETag ?? ''}:${o.Size ?? 0}`;
        if (previous?.stamps?.[key] === stamps[key]) continue;
        if ((o.Size ?? 0) > max) collector.skipped++;
        else todo.push({ key, size: o.Size ?? 0 });
      }
      for (let i = 0; i < todo.length; i += concurrency) {
        const slice = todo.slice(i, i + concurrency);
        const items = await Promise.all(
          slice.map(async ({ key }) => {
            const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
            const data = got.Body ? await got.Body.transformToByteArray() : new Uint8Array();
            return { name: `s3://${bucket}/${key}`, data };
          }),
        );
        await collector.add({ type: 'buffers', items });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (err) {
    if (err instanceof KeyturnError) throw err;
    throw new KeyturnError('ERR_UPSTREAM', `S3 scan of ${bucket} failed: ${(err as Error).name}: ${(err as Error).message}`);
  } finally {
    s3.destroy();
  }
  const result = await collector.finish();
  if (ctx.stateDir) writeState(ctx.stateDir, { version: 1, source, stamps, scannedAt: ctx.now().toISOString() });
  return result;
}
