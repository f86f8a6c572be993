// GET /api/quotas and POST /api/quotas/refill, and balances that outlive the gateway process.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { parseConfigText } from "../../gateway/config/load.js";
import { startGateway } from "../../gateway/server.js";
import { type Harness, defaultProviders, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { all } from "../helpers/store.js";

const CAP = "keyless.dev/cap/gateway";
const ADMIN = "127.0.0.2";
const DEV = "127.0.0.3";
const D = 1_000_000_000;

interface Bucket {
  bucket: string;
  quota: string;
  balance_nanos: number;
  balance: string;
  capacity: string;
  rate: string;
}

describe("quota API", () => {
  let h: Harness;
  let config: Record<string, unknown>;
  before(async () => {
    h = await startHarness({
      peers: { [ADMIN]: { login: "admin@example.com" }, [DEV]: { login: "dev@example.com", nodeId: "nDEV" } },
      config: () => {
        config = {
          quotas: { "daily:<user>": { capacity: "$1.00", rate: "$0/day" }, "team": { capacity: "$10.00", rate: "$0/day" } },
          grants: [
            { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin" }] } },
            { src: ["*"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "daily:<user>" }, { bucket: "team" }] }] } },
          ],
        };
        return config;
      },
    });
  });
  after(async () => {
    await h.upstream.close();
    await h.tailscaled.close();
  });

  const call = async (from: string, method: string, path: string, body?: unknown, url = h.gateway.url) => {
    const res = await h.fetchFrom(from)(`${url}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { buckets?: Bucket[]; bucket?: Bucket; added_nanos?: number; error?: { code: string; message: string } } };
  };
  const spend = async () => {
    const client = new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(DEV), maxRetries: 0 });
    const { response } = await client.messages.create({ model: "claude-sonnet-4-6", max_tokens: 10, messages: [{ role: "user", content: "hi" }] }).withResponse();
    const id = response.headers.get("x-keyless-request-id")!;
    await waitFor(async () => {
      await h.gateway.requestLog.flush();
      return (await h.gateway.requestLog.get(id)) !== null;
    }, 3000, "the request's row and settlement");
  };

  it("shows a user their own buckets, full before any spend, and an admin every bucket", async () => {
    const fresh = await call(DEV, "GET", "/api/quotas");
    assert.equal(fresh.status, 200);
    assert.deepEqual(
      fresh.body.buckets!.map((b) => [b.bucket, b.quota, b.balance, b.capacity, b.rate]),
      [
        ["daily:dev@example.com", "daily:<user>", "$1.00", "$1.00", "$0/day"],
        ["team", "team", "$10.00", "$10.00", "$0/day"],
      ],
    );
    await spend();
    const mine = await call(DEV, "GET", "/api/quotas");
    assert.ok(mine.body.buckets!.every((b) => b.balance_nanos < (b.bucket === "team" ? 10 * D : D)));
    const admin = await call(ADMIN, "GET", "/api/quotas");
    assert.deepEqual(admin.body.buckets!.map((b) => b.bucket), ["daily:admin@example.com", "daily:dev@example.com", "team"], "admin sees its own buckets and everyone else's");
  });

  it("lets admins refill, never beyond capacity, and nobody else", async () => {
    const denied = await call(DEV, "POST", "/api/quotas/refill", { bucket: "team" });
    assert.equal(denied.status, 403);
    const some = await call(ADMIN, "POST", "/api/quotas/refill", { bucket: "daily:dev@example.com", amount: "$0.000000001" });
    assert.equal(some.status, 200, JSON.stringify(some.body));
    assert.equal(some.body.added_nanos, 1);
    const full = await call(ADMIN, "POST", "/api/quotas/refill", { bucket: "team", amount: "$500.00" });
    assert.equal(full.body.bucket!.balance_nanos, 10 * D);
    const toCapacity = await call(ADMIN, "POST", "/api/quotas/refill", { bucket: "daily:dev@example.com" });
    assert.equal(toCapacity.body.bucket!.balance_nanos, D);
    // A bucket never charged yet is found through its template (and is full already).
    const unseen = await call(ADMIN, "POST", "/api/quotas/refill", { bucket: "daily:someone@example.com" });
    assert.equal(unseen.status, 200);
    assert.equal(unseen.body.added_nanos, 0);
    const unknown = await call(ADMIN, "POST", "/api/quotas/refill", { bucket: "weekly:x" });
    assert.equal(unknown.status, 404);
    const bad = await call(ADMIN, "POST", "/api/quotas/refill", { bucket: "team", amount: "5 dollars" });
    assert.equal(bad.status, 400);
    const audit = (await all(h.gateway.store, "SELECT principal, bucket FROM quota_refills ORDER BY id"));
    assert.equal(audit.length, 4);
    assert.deepEqual(audit[0], { principal: "admin@example.com", bucket: "daily:dev@example.com" });
  });

  it("keeps balances across a gateway restart", async () => {
    await spend();
    const before = (await call(DEV, "GET", "/api/quotas")).body.buckets!;
    await h.gateway.close(1000);
    const again = await startGateway({ loaded: parseConfigText(JSON.stringify({ ...readConfig(), ...config }), {}), listen: "127.0.0.1:0", log: () => undefined });
    try {
      const after = (await call(DEV, "GET", "/api/quotas", undefined, again.url)).body.buckets!;
      assert.deepEqual(
        after.map((b) => [b.bucket, b.balance_nanos]),
        before.map((b) => [b.bucket, b.balance_nanos]),
      );
      assert.ok(after[0]!.balance_nanos < D);
    } finally {
      await again.close(1000);
    }
  });

  /** The harness config as it was started (database path, identity socket, providers). */
  function readConfig(): Record<string, unknown> {
    const c = h.gateway.config();
    return {
      identity: { type: "tailscale", socket: (c.identity as { socket: string }).socket },
      database: { type: c.database.type, path: c.database.path, url: c.database.url },
      providers: Object.fromEntries(Object.entries(c.providers).map(([k, p]) => [k, { type: p.type, baseurl: p.baseurl, apikey: "apikey" in p ? p.apikey : undefined, models: p.models }])),
    };
  }
});
