// Where exported objects go: S3 or an S3-compatible server, with @aws-sdk/client-s3.
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import type { S3Target } from "../config/export.js";

export interface ObjectSink {
  /** Writes (or overwrites) one object; the same key with the same bytes may be written again after a crash. */
  put(key: string, body: Uint8Array, signal?: AbortSignal): Promise<void>;
  close(): void;
}

export function s3Sink(target: S3Target): ObjectSink {
  const client = new S3Client({
    region: target.region,
    // The SDK waits forever by default; a stuck store must fail the run (it is retried), not hold it and shutdown.
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 120_000, throwOnRequestTimeout: true },
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    forcePathStyle: target.force_path_style,
    ...(target.access_key_id && target.secret_access_key
      ? { credentials: { accessKeyId: target.access_key_id, secretAccessKey: target.secret_access_key } }
      : {}),
  });
  return {
    async put(key, body, signal) {
      await client.send(
        new PutObjectCommand({ Bucket: target.bucket, Key: key, Body: body, ContentType: "application/x-ndjson", ContentEncoding: "gzip" }),
        signal ? { abortSignal: signal } : {},
      );
    },
    close: () => client.destroy(),
  };
}
