// The usage export end to end: requests through a real gateway (official Anthropic SDK, fake provider), exported to an
// S3-compatible server on loopback (s3rver) and read back with @aws-sdk/client-s3. Every request row is in exactly one
// object: after a second run, and after a run that died between its upload and its bookkeeping.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { parseConfigText } from "../../gateway/config/load.js";
import { effectiveRetention } from "../../gateway/config/retention.js";
import { ABANDONED_AFTER_MS, UsageExport } from "../../gateway/export/index.js";
import { s3Sink } from "../../gateway/export/s3.js";
import { KEYS, type Harness, startHarness } from "../helpers/gateway.js";
import { S3_CREDENTIALS, type TestS3, startTestS3 } from "../helpers/s3-server.js";
import { createTestDatabase } from "../helpers/postgres.js";
import { all } from "../helpers/store.js";

const ALICE = "127.0.0.2";
const ROWS_PER_OBJECT = 4;

interface ExportedRow {
  readonly id: string;
  readonly principal: string;
  readonly tags: unknown;
  readonly streamed: unknown;
  readonly cost_nanos: number | null;
}
interface ExportedCapture {
  readonly request_id: string;
  readonly request_body: string | null;
  readonly request_headers: Record<string, string>;
}

describe("usage export to S3", () => {
  let s3: TestS3;
  let h: Harness;
  let exportConfig: NonNullable<ReturnType<typeof parseConfigText>["config"]["export"]>;

  before(async () => {
    s3 = await startTestS3();
    h = await startHarness({
      peers: { [ALICE]: { login: "alice@example.com", nodeId: "nALICE" } },
      config: () => ({
        // Alice reads /metrics too.
        grants: [{ src: ["*"], app: { "keyless.dev/cap/gateway": [{ role: "user", models: "**" }] } }, { src: ["alice@example.com"], app: { "keyless.dev/cap/gateway": [{ role: "admin" }] } }],
        export: {
          s3: { bucket: s3.bucket, prefix: "keyless/", region: "us-east-1", endpoint: s3.endpoint, force_path_style: true, ...S3_CREDENTIALS },
          every: "1h",
          captures: true,
          rows_per_object: ROWS_PER_OBJECT,
        },
      }),
    });
    exportConfig = h.gateway.config().export!;
  });
  after(async () => {
    await h.close();
    await s3.close();
  });

  const client = () => new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: h.fetchFrom(ALICE), maxRetries: 0 });
  const ask = async (n: number, tag: string) => {
    for (let i = 0; i < n; i++) await client().messages.create({ model: "claude-sonnet-4-6", max_tokens: 16, messages: [{ role: "user", content: `${tag} ${i}` }] });
    // A refusal is a usage row too.
    await client().messages.create({ model: "llama-nowhere", max_tokens: 16, messages: [{ role: "user", content: `${tag} refused` }] }).catch(() => undefined);
    await h.gateway.requestLog.flush();
  };
  const exported = async () => {
    const objects = await s3.objects("keyless/requests/");
    const ids = [...objects.values()].flat().map((r) => (r as ExportedRow).id);
    return { objects, ids };
  };
  const recorded = async () => (await all<{ id: string }>(h.gateway.store, "SELECT id FROM requests ORDER BY id")).map((r) => r.id);

  it("exports every recorded row once, as gzip JSON Lines objects of at most rows_per_object rows", async () => {
    await ask(5, "first");
    const run = await h.gateway.usageExport!.run();
    assert.equal(run.rows, 6);
    const { objects, ids } = await exported();
    assert.equal(objects.size, 2, [...objects.keys()].join(", "));
    for (const [key, rows] of objects) {
      assert.match(key, /^keyless\/requests\/dt=\d{4}-\d{2}-\d{2}\/\d{8}T\d{6}Z-[0-9a-f]{8}\.jsonl\.gz$/);
      assert.ok(rows.length <= ROWS_PER_OBJECT);
    }
    assert.deepEqual([...ids].sort(), await recorded());
    const row = [...objects.values()].flat()[0] as ExportedRow;
    assert.equal(row.principal, "alice@example.com");
    assert.deepEqual(row.tags, [], "decoded as the API shows rows");
    assert.equal(typeof row.streamed, "boolean");
    assert.equal(await h.gateway.usageExport!.waiting(), 0);
  });

  it("captures go to their own objects, one line per request, bodies as text and no key anywhere", async () => {
    const captures = [...(await s3.objects("keyless/captures/")).values()].flat() as ExportedCapture[];
    assert.deepEqual(captures.map((c) => c.request_id).sort(), await recorded());
    assert.ok(captures.some((c) => c.request_body?.includes('"first 0"')), "request bodies as text");
    const everything = JSON.stringify([...(await s3.objects("keyless/")).values()]);
    for (const key of Object.values(KEYS)) assert.ok(!everything.includes(key), "a provider key in an export");
  });

  it("a second run exports nothing again; new rows go to new objects", async () => {
    const earlier = await exported();
    assert.deepEqual(await h.gateway.usageExport!.run(), { objects: 0, rows: 0 });
    assert.equal((await exported()).objects.size, earlier.objects.size);
    await ask(2, "second");
    assert.equal((await h.gateway.usageExport!.run()).rows, 3);
    const later = await exported();
    assert.equal(new Set(later.ids).size, later.ids.length, "no row twice");
    assert.deepEqual([...later.ids].sort(), await recorded());
  });

  it("a run that dies between upload and bookkeeping: the next uploads the same object again, every row still once", async () => {
    await ask(3, "crash");
    const real = s3Sink(exportConfig.s3);
    // Uploads, then dies before the batch is marked done (as a process killed at that moment would).
    const dying = new UsageExport(h.gateway.store, exportConfig, { put: async (key, body) => { await real.put(key, body); throw new Error("killed after upload"); }, close: () => real.close() });
    await assert.rejects(dying.run(), /killed after upload/);
    const afterCrash = await exported();
    assert.equal(await h.gateway.usageExport!.waiting(), 4, "the rows still wait: their batch is unfinished");
    assert.deepEqual(await h.gateway.usageExport!.run(), { objects: 0, rows: 0 }, "a batch this young may be another run's, in progress");
    // The next scheduled run, later: the batch is taken for abandoned and uploaded again.
    const run = await h.gateway.usageExport!.run(Date.now() + ABANDONED_AFTER_MS + 1000);
    assert.equal(run.rows, 4);
    const final = await exported();
    assert.equal(final.objects.size, afterCrash.objects.size, "the same key, overwritten, not a new object");
    assert.equal(new Set(final.ids).size, final.ids.length, "no row twice");
    assert.deepEqual([...final.ids].sort(), await recorded());
    assert.equal(await h.gateway.usageExport!.waiting(), 0);
    real.close();
  });

  it("retention with require_export purges only captures whose request was exported", async () => {
    await ask(1, "pending");
    const waitingIds = (await all<{ request_id: string }>(h.gateway.store, "SELECT request_id FROM export_queue")).map((r) => r.request_id);
    assert.equal(waitingIds.length, 2);
    const metrics = await (await h.fetchFrom(ALICE)(`${h.gateway.url}/metrics`)).text();
    assert.match(metrics, /^keyless_export_waiting_rows 2$/m, "the backlog on /metrics");
    const purged = await h.gateway.requestLog.purgeCaptures(Date.now() + 60_000, true);
    const left = (await all<{ request_id: string }>(h.gateway.store, "SELECT request_id FROM captures ORDER BY request_id")).map((r) => r.request_id);
    assert.deepEqual(left, [...waitingIds].sort());
    assert.equal(purged, (await recorded()).length - waitingIds.length);
  });

  it("config: require_export is kept with its duration; an export needs a bucket; credentials go in pairs", () => {
    const retention = parseConfigText(JSON.stringify({ database: { retention: { duration: "30d", require_export: true } } }), {}).config.database.retention;
    assert.deepEqual(retention, { afterMs: 30 * 86_400_000, text: "30d", requireExport: true });
    assert.equal(effectiveRetention(retention, true).afterMs, 30 * 86_400_000, "with an export: purged once exported");
    assert.equal(effectiveRetention(retention, false).afterMs, null, "without one nothing is ever exported, so nothing is purged");
    assert.throws(() => parseConfigText(JSON.stringify({ export: { s3: {} } }), {}), /export\.s3\.bucket/);
    assert.throws(() => parseConfigText(JSON.stringify({ export: { s3: { bucket: "abc", access_key_id: "x" } } }), {}), /go together/);
    const parsed = parseConfigText(JSON.stringify({ export: { s3: { bucket: "abc" } } }), {}).config.export;
    assert.equal(parsed?.every, 3_600_000);
    assert.equal(parsed?.captures, false);
  });
});

// Replicas share a store on PostgreSQL (two SQLite connections in one process would wait on each other's locks).
describe("two replicas on one PostgreSQL exporting at once", () => {
  it("each row is claimed into one batch: every row once across both replicas' objects", async () => {
    const s3 = await startTestS3();
    const pg = await createTestDatabase();
    const shared = { config: { type: "postgres", url: pg.url, pool_size: 4 }, drop: () => pg.drop() };
    const exportSection = { s3: { bucket: s3.bucket, prefix: "r/", endpoint: s3.endpoint, force_path_style: true, ...S3_CREDENTIALS }, every: "1h", rows_per_object: 2 };
    const start = () => startHarness({ peers: { [ALICE]: { login: "alice@example.com" } }, database: shared.config, config: () => ({ export: exportSection }) });
    const a = await start();
    const b = await start();
    try {
      for (const [i, h] of [a, b, a, b, a, b, a].entries()) {
        const client = new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: h.fetchFrom(ALICE), maxRetries: 0 });
        await client.messages.create({ model: "claude-haiku-4-5", max_tokens: 8, messages: [{ role: "user", content: `n${i}` }] });
      }
      await Promise.all([a.gateway.requestLog.flush(), b.gateway.requestLog.flush()]);
      const runs = await Promise.all([a.gateway.usageExport!.run(), b.gateway.usageExport!.run(), a.gateway.usageExport!.run()]);
      assert.equal(runs.reduce((n, r) => n + r.rows, 0), 7, JSON.stringify(runs));
      const ids = [...(await s3.objects("r/requests/")).values()].flat().map((r) => (r as ExportedRow).id);
      const recorded = (await all<{ id: string }>(a.gateway.store, "SELECT id FROM requests ORDER BY id")).map((r) => r.id);
      assert.deepEqual([...ids].sort(), recorded);
    } finally {
      await a.close();
      await b.close();
      await shared.drop();
      await s3.close();
    }
  });
});
