// Budget alerts through the real gateway: as a caller's requests spend a quota, each alert threshold fires one signed
// `budget_alert` webhook (Standard Webhooks, through the outbox) once per refill period, to the hooks the caller's
// grants name for it; the CI session report (check run, job summary) lists them.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { Webhook } from "standardwebhooks";
import { renderMarkdown } from "../../gateway/github/render.js";
import { report } from "../github/report-fixture.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const CAP = "keyless.dev/cap/gateway";
const ALICE = "127.0.0.2";
const BOB = "127.0.0.3";

interface AlertEvent {
  event: string;
  bucket: string;
  threshold_percent: number;
  spent_nanos: number;
  capacity_nanos: number;
  principal: string;
}

describe("budget alerts", () => {
  let h: Harness;
  let receiver: http.Server;
  const received: { headers: Record<string, string>; body: string }[] = [];
  before(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
        received.push({ headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
    const grant = (login: string, bucket: string) => ({
      src: [login],
      app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket }], send_hooks: [{ name: "ops", events: ["budget_alert"] }] }] },
    });
    h = await startHarness({
      peers: { [ALICE]: { login: "alice@example.com" }, [BOB]: { login: "bob@example.com" } },
      config: () => ({
        hooks: { ops: { url, secret: SECRET, retry: { initial: "50ms", max: "200ms" } } },
        quotas: {
          "daily:<user>": { capacity: "$0.002", rate: "$0.002/day", alerts: [50, 80, 100] },
          // Refills its whole capacity in five seconds, the refill period: long enough for the second request below to come
          // within it on a busy machine.
          "fast:<user>": { capacity: "$0.01", rate: "$0.12/min", alerts: [50] },
        },
        grants: [grant("alice@example.com", "daily:<user>"), grant("bob@example.com", "fast:<user>")],
      }),
    });
  });
  after(async () => {
    await h.close();
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  });

  const events = (principal: string) =>
    received.map((r) => {
      // Every delivery is signed per Standard Webhooks; verify throws otherwise.
      const payload = new Webhook(SECRET).verify(r.body, r.headers) as AlertEvent;
      return payload;
    }).filter((e) => e.principal === principal);
  const ask = (from: string) =>
    new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0 })
      .messages.create({ model: "claude-sonnet-4-6", max_tokens: 20, messages: [{ role: "user", content: "hi" }] })
      .then(() => "ok" as const, (e: unknown) => (e instanceof Anthropic.RateLimitError ? ("refused" as const) : Promise.reject(e)));
  const settle = () => new Promise((r) => setTimeout(r, 300));

  it("spending a quota fires 50, 80 and 100 % once each, in order, signed", async () => {
    let outcome: string = "ok";
    for (let i = 0; i < 80 && outcome === "ok"; i++) outcome = await ask(ALICE);
    await h.gateway.requestLog.flush();
    const costs = (await h.gateway.requestLog.list({ principal: "alice@example.com", limit: 3 })).map((r) => r.cost_nanos);
    assert.equal(outcome, "refused", `the quota ran out (last costs ${costs.join(", ")})`);
    await waitFor(() => events("alice@example.com").length >= 3, 5000, "three alerts");
    await ask(ALICE);
    await settle();
    const alerts = events("alice@example.com");
    assert.deepEqual(alerts.map((a) => a.threshold_percent), [50, 80, 100], "each threshold once, in order");
    for (const a of alerts) {
      assert.equal(a.event, "budget_alert");
      assert.equal(a.bucket, "daily:alice@example.com");
      assert.equal(a.capacity_nanos, 2_000_000);
      assert.ok(a.spent_nanos * 100 >= a.threshold_percent * a.capacity_nanos, `spent ${a.spent_nanos} at ${a.threshold_percent} %`);
    }
  });

  it("a threshold fires again only once its refill period has passed", async () => {
    const def = h.gateway.config().quotas["fast:<user>"]!;
    const charge = { bucket: "fast:bob@example.com", quota: "fast:<user>", def };
    const drain = async () => {
      // The gateway's own bucket store: SQLite's, or PostgreSQL's when the suite runs there.
      const store = h.gateway.buckets;
      assert.ok((await store.reserve([[charge]], (await store.peek(charge)).balance)).ok);
    };
    // Whether the request itself is refused depends on the refill since the drain; the spend is over 50 % either way.
    await drain();
    await ask(BOB);
    await waitFor(() => events("bob@example.com").length === 1, 5000, "the first alert");
    await drain();
    await ask(BOB);
    await settle();
    assert.equal(events("bob@example.com").length, 1, "not again within the refill period");
    await new Promise((r) => setTimeout(r, 5100));
    await drain();
    await ask(BOB);
    await waitFor(() => events("bob@example.com").length === 2, 5000, "the alert of the next period");
  });

  it("the CI session report (check run and job summary) lists the alerts", () => {
    const markdown = renderMarkdown(report({ budget_alerts: [{ bucket: "repo:acme-api", threshold_percent: 80, spent_nanos: 4_000_000_000, capacity_nanos: 5_000_000_000, at: "2026-11-20T10:05:00.000Z" }] }), { detailsUrl: null });
    assert.match(markdown, /### Budget alerts\n\n\| Bucket \| Crossed \| Spent \| At \|/);
    assert.ok(markdown.includes("| repo:acme-api | 80 % | \\$4.00 of \\$5.00 | 2026-11-20T10:05:00.000Z |"), markdown);
  });
});
