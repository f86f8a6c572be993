// Budgets through the real gateway: reservations settle to the actual cost (streams included), every applicable
// bucket is charged, unknown costs settle at the reservation, failures refund, tailnet grants fail closed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { all } from "../helpers/store.js";

const CAP = "keyless.dev/cap/gateway";
const ALICE = "127.0.0.2";
const CI = "127.0.0.3";
const STRANGER = "127.0.0.4";
const CAROL = "127.0.0.5"; // an overdraft chain
/** Streamed fixture usage: 12 input and 7 output tokens at claude-sonnet-4-6's $3 / $15 per Mtok. */
const FIXTURE_COST = 12 * 3000 + 7 * 15000;
const D = 1_000_000_000;

interface BucketView {
  bucket: string;
  quota: string;
  balance_nanos: number;
  capacity_nanos: number | null;
  reserved_nanos: number;
}

describe("quotas through the gateway", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers: {
        [ALICE]: { login: "alice@example.com", nodeId: "nALICE" },
        [CI]: { tags: ["tag:ci-acme-api"], nodeId: "nCI" },
        // Grants only from the tailnet, pointing at a quota this gateway does not define.
        [STRANGER]: { login: "sam@example.com", capMap: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "nonexistent:<user>" }] }] } },
        [CAROL]: { login: "carol@example.com", nodeId: "nCAROL" },
      },
      config: () => ({
        quotas: {
          "daily:<user>": { capacity: "$1.00", rate: "$0/day" },
          "device:<node>": { capacity: "$2.00", rate: "$0/day" },
          "openai-only": { capacity: "$3.00", rate: "$0/day" },
          "tiny:<user>": { capacity: "$0.001", rate: "$0/day" },
          pool: { capacity: "$1.00", rate: "$0/day" },
        },
        grants: [
          {
            src: ["alice@example.com", "tag:ci-acme-api"],
            app: {
              [CAP]: [
                { role: "user", models: "anthropic/**", quotas: [{ bucket: "daily:<user>" }] },
                // Floating: applies whatever the model.
                { quotas: [{ bucket: "device:<node>" }] },
                { models: "openai/**", quotas: [{ bucket: "openai-only" }] },
              ],
            },
          },
          { src: ["alice@example.com"], app: { [CAP]: [{ role: "admin" }] } },
          { src: ["carol@example.com"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "tiny:<user>", overdraft: ["pool"] }] }] } },
        ],
      }),
    });
  });
  after(() => h.close());

  const client = (from = ALICE) => new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0 });
  const buckets = async (from = ALICE): Promise<BucketView[]> => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}/api/quotas`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { buckets: BucketView[] }).buckets;
  };
  const balance = async (bucket: string, from = ALICE) => (await buckets(from)).find((b) => b.bucket === bucket)?.balance_nanos;
  const charges = async (requestId: string) =>
    (await all(h.gateway.store, "SELECT bucket, reserved_nanos, charged_nanos, at_reservation FROM quota_charges WHERE request_id = ? ORDER BY bucket", requestId)) as {
      bucket: string;
      reserved_nanos: number;
      charged_nanos: number;
      at_reservation: number;
    }[];
  const settled = async (requestId: string) => {
    await h.gateway.requestLog.flush();
    return waitFor(async () => {
      const rows = await charges(requestId);
      return rows.length > 0 ? rows : undefined;
    }, 3000, `charges of ${requestId}`);
  };
  const params = { model: "claude-sonnet-4-6", max_tokens: 100, messages: [{ role: "user" as const, content: "hi" }] };

  it("charges every applicable bucket the actual cost of a non-streamed request", async () => {
    const { response } = await client().messages.create(params).withResponse();
    const id = response.headers.get("x-keyless-request-id")!;
    const rows = await settled(id);
    const cost = (await h.gateway.requestLog.get(id))!.row.cost_nanos!;
    assert.ok(cost > 0);
    assert.deepEqual(
      rows.map((r) => [r.bucket, r.charged_nanos, r.at_reservation]),
      [
        ["daily:alice@example.com", cost, 0],
        ["device:nALICE", cost, 0],
      ],
      "openai-only applies to openai models only",
    );
    assert.ok(rows[0]!.reserved_nanos >= cost, "the reservation is an upper bound of the cost");
    assert.equal(await balance("daily:alice@example.com"), D - cost);
    assert.equal(await balance("device:nALICE"), 2 * D - cost);
    assert.equal(await balance("openai-only"), 3 * D, "listed (the caller's grants name it) but not charged");
  });

  it("charges a streamed request its actual cost, not $0", async () => {
    const before = await balance("daily:alice@example.com");
    const stream = client().messages.stream({ ...params, max_tokens: 2000 });
    const { response } = await stream.withResponse();
    await stream.finalMessage();
    const rows = await settled(response.headers.get("x-keyless-request-id")!);
    assert.equal(rows[0]!.charged_nanos, FIXTURE_COST);
    assert.ok(rows[0]!.reserved_nanos >= 2000 * 15000);
    assert.equal(await balance("daily:alice@example.com"), before! - FIXTURE_COST);
    assert.equal((await buckets()).find((b) => b.bucket === "daily:alice@example.com")?.reserved_nanos, 0, "nothing left reserved");
  });

  it("keeps one bucket per caller: a CI node's templates expand to its tags and node id", async () => {
    const { response } = await client(CI).messages.create(params).withResponse();
    const rows = await settled(response.headers.get("x-keyless-request-id")!);
    assert.deepEqual(rows.map((r) => r.bucket), ["daily:tag:ci-acme-api", "device:nCI"]);
    const mine = await buckets(CI);
    assert.deepEqual(mine.map((b) => b.bucket).sort(), ["daily:tag:ci-acme-api", "device:nCI", "openai-only"], "a user sees only its own buckets");
    const all = await buckets(ALICE);
    assert.ok(all.some((b) => b.bucket === "device:nCI"), "an admin sees every bucket");
  });

  it("settles a request whose cost is unknown at its reservation, and flags it", async () => {
    const before = await balance("daily:alice@example.com");
    const { response } = await client().messages.create({ ...params, model: "claude-unpriced-1" }).withResponse();
    const id = response.headers.get("x-keyless-request-id")!;
    const rows = await settled(id);
    const body = JSON.stringify({ ...params, model: "claude-unpriced-1" });
    // unknown_price defaults: $15 in, $75 out per Mtok, bytes_per_token 2.
    const expected = (Math.ceil(Buffer.byteLength(body) / 2) * 15 + 100 * 75) * 1000;
    assert.equal(rows[0]!.reserved_nanos, expected);
    assert.equal(rows[0]!.charged_nanos, expected);
    assert.equal(rows[0]!.at_reservation, 1);
    assert.equal(await balance("daily:alice@example.com"), before! - expected);
    const row = (await h.gateway.requestLog.get(id))!.row;
    assert.ok(row.flags.includes("quota_settled_at_reservation"), row.flags.join());
    assert.ok(row.flags.includes("quota_estimate_unpriced"), row.flags.join());
  });

  it("refunds the whole reservation when the upstream fails", async () => {
    const before = await balance("daily:alice@example.com");
    h.upstream.once(/^\/v1\/messages$/, () => Response.json({ type: "error", error: { type: "api_error", message: "boom" } }, { status: 500 }));
    const err = await client().messages.create(params).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.InternalServerError);
    const id = err.headers?.get("x-keyless-request-id");
    assert.ok(id);
    const rows = await settled(id);
    assert.equal(rows[0]!.charged_nanos, 0);
    assert.equal(await balance("daily:alice@example.com"), before);
  });

  it("charges a stream the client broke off at least its reservation (the provider may have billed more than was seen)", async () => {
    const before = await balance("daily:alice@example.com");
    const { sseResponse } = await import("../fakes/upstream.js");
    const { capture, withModel } = await import("../fakes/fixtures.js");
    const sse = withModel(capture("fixtures/anthropic-messages-tool_use.sse"), "claude-x", "claude-sonnet-4-6");
    h.upstream.once(/^\/v1\/messages$/, () => sseResponse(sse, { chunkDelayMs: 100 }));
    const abort = new AbortController();
    const res = await h.fetchFrom(ALICE)(`${h.gateway.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: JSON.stringify({ ...params, stream: true }),
      signal: abort.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    const rows = await settled(res.headers.get("x-keyless-request-id")!);
    assert.equal(rows[0]!.at_reservation, 1);
    assert.equal(rows[0]!.charged_nanos, rows[0]!.reserved_nanos);
    assert.equal(await balance("daily:alice@example.com"), before! - rows[0]!.reserved_nanos);
  });

  it("does not charge free routes (count_tokens)", async () => {
    const before = await balance("daily:alice@example.com");
    await client().messages.countTokens({ model: "claude-sonnet-4-6", messages: [{ role: "user", content: "x" }] });
    await h.gateway.requestLog.flush();
    assert.equal(await balance("daily:alice@example.com"), before);
  });

  it("refuses a tailnet grant that references an undefined quota (fails closed, says which)", async () => {
    const err = await client(STRANGER).messages.create(params).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.PermissionDeniedError, String(err));
    assert.match(err.message, /grant references undefined quota \(tailnet: nonexistent:<user>\)/);
  });

  it("reserves along an overdraft chain and settles the actual cost from the primary first", async () => {
    const { response } = await client(CAROL).messages.create(params).withResponse();
    const id = response.headers.get("x-keyless-request-id")!;
    const rows = await settled(id);
    const cost = (await h.gateway.requestLog.get(id))!.row.cost_nanos!;
    const [pool, tiny] = rows;
    assert.equal(tiny!.bucket, "tiny:carol@example.com");
    assert.equal(tiny!.reserved_nanos, 1_000_000, "the primary lent all it had");
    assert.ok(pool!.reserved_nanos > 0, "the rest of the reservation was borrowed from the pool");
    assert.equal(tiny!.charged_nanos, cost, "the actual cost fit in the primary");
    assert.equal(pool!.charged_nanos, 0);
    assert.equal(await balance("tiny:carol@example.com", CAROL), 1_000_000 - cost);
    assert.equal(await balance("pool", CAROL), D);
  });
});
