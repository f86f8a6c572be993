// The usage export (config `export`): what the store recorded, as gzip-compressed JSON Lines objects in S3, each
// request row in exactly one object. A run first uploads again any batch an earlier run claimed and abandoned (same
// key, same rows: an overwrite), then claims and uploads new batches until the queue is drained. Objects:
//   {prefix}requests/dt=YYYY-MM-DD/{batch}.jsonl.gz   one request row per line, as GET /api/requests shows it
//   {prefix}captures/dt=YYYY-MM-DD/{batch}.jsonl.gz   (export.captures) the same requests' headers and bodies
import { randomBytes } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { Gauge, type Registry } from "prom-client";
import type { ExportConfig } from "../config/export.js";
import type { Store } from "../store/db.js";
import { type ExportBatch, ExportQueue } from "../store/export-queue.js";
import { requestFromDb } from "../store/requests.js";
import type { CaptureRecord } from "../store/schema.js";
import type { ObjectSink } from "./s3.js";

export interface ExportRun {
  readonly objects: number;
  readonly rows: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A batch this old is taken for abandoned (its run died) and uploaded again. Younger ones may be another replica's run
 * in progress: uploading those too would only write the same object twice, but there is no need.
 */
export const ABANDONED_AFTER_MS = 10 * 60_000;

/** A stored body as text when it is UTF-8 (JSON, SSE), else base64; gunzipped either way. */
function body(stored: Buffer | null): { text: string | null; encoding: "utf8" | "base64" } {
  if (!stored) return { text: null, encoding: "utf8" };
  const raw = gunzipSync(stored);
  try {
    return { text: utf8.decode(raw), encoding: "utf8" };
  } catch {
    return { text: raw.toString("base64"), encoding: "base64" };
  }
}

function captureLine(c: CaptureRecord): unknown {
  const request = body(c.request_body);
  const response = body(c.response_body);
  return {
    request_id: c.request_id,
    ts: c.ts,
    request_headers: JSON.parse(c.request_headers) as unknown,
    request_body: request.text,
    request_body_encoding: request.encoding,
    request_truncated: c.request_truncated === 1,
    response_headers: JSON.parse(c.response_headers) as unknown,
    response_body: response.text,
    response_body_encoding: response.encoding,
    response_truncated: c.response_truncated === 1,
  };
}

const jsonl = (lines: readonly unknown[]) => gzipSync(lines.map((l) => `${JSON.stringify(l)}\n`).join(""));

/** Names sort by creation time; the random part keeps two replicas' batches apart. */
function batchId(now: number): string {
  return `${new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "")}-${randomBytes(4).toString("hex")}`;
}

export class UsageExport {
  private readonly queue: ExportQueue;

  constructor(
    store: Store,
    private readonly config: ExportConfig,
    private readonly sink: ObjectSink,
  ) {
    this.queue = new ExportQueue(store);
  }

  private key(kind: "requests" | "captures", batch: ExportBatch): string {
    const day = new Date(batch.createdAt).toISOString().slice(0, 10);
    return `${this.config.s3.prefix}${kind}/dt=${day}/${batch.id}.jsonl.gz`;
  }

  /** Uploads a batch's objects, then takes its rows off the queue. */
  private async ship(batch: ExportBatch): Promise<ExportRun> {
    const rows = await this.queue.requests(batch.id);
    let objects = 0;
    if (rows.length > 0) {
      await this.sink.put(this.key("requests", batch), jsonl(rows.map(requestFromDb)));
      objects++;
    }
    if (this.config.captures) {
      const captures = await this.queue.captures(batch.id);
      if (captures.length > 0) {
        await this.sink.put(this.key("captures", batch), jsonl(captures.map(captureLine)));
        objects++;
      }
    }
    await this.queue.finish(batch.id);
    return { objects, rows: rows.length };
  }

  /** Exports everything waiting; `now` names new batches. */
  async run(now = Date.now()): Promise<ExportRun> {
    let objects = 0;
    let rows = 0;
    const add = (r: ExportRun) => {
      objects += r.objects;
      rows += r.rows;
    };
    for (const batch of await this.queue.unfinished(now - ABANDONED_AFTER_MS)) add(await this.ship(batch));
    for (;;) {
      const claimed = await this.queue.claim(batchId(now), now, this.config.rows_per_object);
      if (!claimed) break;
      add(await this.ship(claimed.batch));
      // Rows that keep arriving wait for the next run rather than keeping this one going.
      if (claimed.rows < this.config.rows_per_object) break;
    }
    return { objects, rows };
  }

  /** Rows recorded and not yet exported. */
  waiting(): Promise<number> {
    return this.queue.waiting();
  }
}

/** `keyless_export_waiting_rows` on /metrics: a backlog that keeps growing is an export that keeps failing. */
export function registerExportMetrics(registry: Registry, exporter: UsageExport): void {
  new Gauge({
    name: "keyless_export_waiting_rows",
    help: "Request rows recorded and not yet in an uploaded export object (every replica sees the shared queue)",
    registers: [registry],
    async collect() {
      this.set(await exporter.waiting());
    },
  });
}
