// Export of usage rows (and, optionally, captures) to S3-compatible storage as gzip-compressed JSON Lines, for an
// operator's warehouse. Each row is exported exactly once (store/export-queue.ts); `database.retention` with
// `require_export` keeps a capture until its request has been exported.
import { z } from "zod";
import { Duration } from "./units.js";

export const S3Target = z.strictObject({
  bucket: z.string().min(3),
  /** Prepended to every object key ("keyless/" → keyless/requests/dt=2026-12-03/…). */
  prefix: z.string().default(""),
  region: z.string().min(1).default("us-east-1"),
  /** An S3-compatible endpoint (MinIO, R2, a local test server); absent: AWS S3 for the region. */
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  /** Path-style URLs (endpoint/bucket/key), which most S3-compatible servers need. */
  force_path_style: z.boolean().default(false),
  /** Static credentials (write them as "${ENV}"); absent: the AWS SDK's default chain (env, profile, instance role). */
  access_key_id: z.string().min(1).optional(),
  secret_access_key: z.string().min(1).optional(),
}).refine((s) => (s.access_key_id === undefined) === (s.secret_access_key === undefined), {
  message: "access_key_id and secret_access_key go together",
  path: ["secret_access_key"],
});
export type S3Target = z.infer<typeof S3Target>;

export const ExportConfig = z.strictObject({
  s3: S3Target,
  /** How often a run exports what was recorded since the last one (one replica runs it). */
  every: Duration.default(3_600_000),
  /** Also export each request's capture (headers and bodies), in objects of their own beside the rows. */
  captures: z.boolean().default(false),
  /** Most rows in one object. */
  rows_per_object: z.number().int().min(1).max(100_000).default(10_000),
});
export type ExportConfig = z.infer<typeof ExportConfig>;
