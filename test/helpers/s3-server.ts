// An S3-compatible server on loopback (s3rver, files in a temporary directory) and a reader that lists and fetches
// what a test's exporter wrote, with the official @aws-sdk/client-s3.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";

// s3rver checks SigV4 signatures made with these.
export const S3_CREDENTIALS = { access_key_id: "S3RVER", secret_access_key: "S3RVER" } as const;

export interface TestS3 {
  readonly endpoint: string;
  readonly bucket: string;
  /** Every object under `prefix`, gunzipped, as JSON lines, by key. */
  objects(prefix: string): Promise<Map<string, unknown[]>>;
  close(): Promise<void>;
}

export async function startTestS3(bucket = "usage"): Promise<TestS3> {
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory: mkdtempSync(join(tmpdir(), "keyless-s3-")), configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: S3_CREDENTIALS.access_key_id, secretAccessKey: S3_CREDENTIALS.secret_access_key },
  });
  return {
    endpoint,
    bucket,
    async objects(prefix) {
      const out = new Map<string, unknown[]>();
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const { Key } of page.Contents ?? []) {
          const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key }));
          const text = gunzipSync(await got.Body!.transformToByteArray()).toString("utf8");
          out.set(Key!, text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as unknown));
        }
        token = page.NextContinuationToken;
      } while (token);
      return out;
    },
    async close() {
      client.destroy();
      await server.close();
    },
  };
}
