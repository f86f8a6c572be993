// A request is judged under the config it was identified under, start to end: a reload while it waits (in a
// pre_request hook, or in the provider's answer) changes neither its rate limits nor its budget alerts. The reload
// applies to the next request.
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import type { Config } from "../../gateway/config/schema.js";
import { anthropicTextStream } from "../fakes/replies.js";
import { sseResponse } from "../fakes/upstream.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const CAP = "keyless.dev/cap/gateway";
const ALICE = "127.0.0.2";
const BOB = "127.0.0.3";

describe("a config reload mid-request", () => {
  let h: Harness;
  let receiver: http.Server;
  /** Runs when the pre_request hook is called, before it answers "allow". */
  let onPreRequest: () => void = () => undefined;
  const alerts: { principal: string; threshold_percent: number }[] = [];
  before(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { event: string; principal: string; threshold_percent: number };
        if (req.url === "/gate") {
          onPreRequest();
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ action: "allow" }));
          return;
        }
        if (body.event === "budget_alert") alerts.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    h = await startHarness({
      peers: { [ALICE]: { login: "alice@example.com" }, [BOB]: { login: "bob@example.com" } },
      config: () => ({
        hooks: {
          gate: { url: `${base}/gate`, secret: SECRET },
          ops: { url: `${base}/alerts`, secret: SECRET, retry: { initial: "50ms", max: "200ms" } },
        },
        rate_limits: { "rpm:<user>": { requests: 1, per: "1m" } },
        // One request spends more than 1 % of it.
        quotas: { "daily:<user>": { capacity: "$0.002", rate: "$0.002/day", alerts: [1] } },
        grants: [
          { src: ["alice@example.com"], app: { [CAP]: [{ role: "user", models: "**", rate_limits: [{ bucket: "rpm:<user>" }], send_hooks: [{ name: "gate", events: ["pre_request"] }] }] } },
          { src: ["bob@example.com"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "daily:<user>" }], send_hooks: [{ name: "ops", events: ["budget_alert"] }] }] } },
        ],
      }),
    });
  });
  after(async () => {
    await h.close();
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  });

  const reload = (change: (config: Config) => Config) => h.gateway.replaceConfig({ config: change(h.gateway.config()), text: "", hash: "", warnings: [] });
  const client = (from: string) => new Anthropic({ apiKey: "-", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0 });
  const ask = (from: string) => client(from).messages.create({ model: "claude-sonnet-4-6", max_tokens: 20, messages: [{ role: "user", content: "hi" }] });

  it("rate limits: a reload between identification and the rate-limit step leaves the request's limits as they were", async () => {
    await ask(ALICE);
    // The second request is identified under one request a minute; while its pre_request hook runs (before the rate
    // limit step), the running config's limit becomes five concurrent requests, and no request count.
    onPreRequest = () => {
      onPreRequest = () => undefined;
      reload((c) => ({ ...c, rate_limits: { "rpm:<user>": { concurrent: 5, per: 60_000 } } }));
    };
    const err = await ask(ALICE).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.RateLimitError, `refused under the limit it was identified under: ${String(err)}`);
    assert.match((err.error as { error: { message: string } }).error.message, /allows 1 requests per minute/);
    // The next request is identified under the reloaded config.
    const next = await ask(ALICE);
    assert.equal(next.type, "message");
  });

  it("budget alerts: a reload while the provider answers leaves the request's alert thresholds as they were", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    h.upstream.once(/^\/v1\/messages$/, async () => {
      await gate;
      return sseResponse(anthropicTextStream("claude-sonnet-4-6"));
    });
    const seen = h.upstream.requests.length;
    const stream = client(BOB).messages.create({ model: "claude-sonnet-4-6", max_tokens: 20, stream: true, messages: [{ role: "user", content: "hi" }] });
    await waitFor(() => h.upstream.requests.length > seen, 5000, "the request at the upstream");
    // The running config's quota stops alerting; the request was judged under the one that alerts at 1 %.
    reload((c) => ({ ...c, quotas: { "daily:<user>": { ...c.quotas["daily:<user>"]!, alerts: [] } } }));
    release();
    for await (const _event of await stream) {
      // Drained to the end.
    }
    const alert = await waitFor(() => alerts.find((a) => a.principal === "bob@example.com"), 5000, "bob's budget alert");
    assert.equal(alert.threshold_percent, 1);
  });
});
