// 100 concurrent streamed requests against a bucket worth about 10 of them. Every admitted stream is held open until
// all 100 have their answer, so all reservations overlap: a check-then-debit budget would admit all 100.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULT_QUOTA_ESTIMATE } from "../../gateway/config/quotas.js";
import { formatDollars } from "../../gateway/config/units.js";
import { anthropicMessages } from "../../gateway/dialects/anthropic/codec.js";
import { createPricer } from "../../gateway/pricing/prices.js";
import { estimateCost } from "../../gateway/quotas/estimate.js";
import type { Exchange } from "../../gateway/proxy/exchange.js";
import { capture, withModel } from "../fakes/fixtures.js";
import { type Harness, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { one } from "../helpers/store.js";

const CAP = "keyless.dev/cap/gateway";
const N = 100;
const PEERS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
const MODEL = "claude-sonnet-4-6";
const BODY = JSON.stringify({ model: MODEL, max_tokens: 1000, stream: true, messages: [{ role: "user", content: "run the tests and fix what fails" }] });

/** The reservation the gateway will make for BODY, computed by the same function. */
function expectedEstimate(): number {
  const parsed = JSON.parse(BODY) as unknown;
  const ex = {
    body: parsed,
    info: anthropicMessages.requestInfo(parsed),
    format: anthropicMessages,
    provider: { name: "anthropic", adapter: { priceProvider: "anthropic" } },
    model: MODEL,
  } as unknown as Exchange;
  return estimateCost(ex, createPricer({}), DEFAULT_QUOTA_ESTIMATE).nanos;
}

/** An SSE body that sends its first event at once and the rest only after `gate` opens, `delayMs` apart. */
function gatedStream(text: string, gate: Promise<void>, delayMs: number): Response {
  const events = text.split(/(?<=\n\n)/);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(encoder.encode(events[0]!));
      await gate;
      for (const event of events.slice(1)) {
        await new Promise((r) => setTimeout(r, delayMs));
        controller.enqueue(encoder.encode(event));
      }
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream; charset=utf-8" } });
}

describe("budgets under concurrency", () => {
  const estimate = expectedEstimate();
  // Worth 10.5 reservations: exactly 10 fit at once.
  const capacity = Math.floor(10.5 * estimate);
  let h: Harness;
  before(async () => {
    h = await startHarness({
      peers: Object.fromEntries(PEERS.map((ip, i) => [ip, { login: `dev${i}@example.com` }])),
      config: () => ({
        quotas: { "team-daily": { capacity: `$${(capacity / 1e9).toFixed(9)}`, rate: "$0/day" } },
        grants: [{ src: ["*"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "team-daily" }] }] } }],
      }),
    });
  });
  after(() => h.close());

  it("admits what the bucket covers, settles every stream to its actual cost, never ends below zero", async (t) => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const sse = withModel(capture("fixtures/anthropic-messages-tool_use.sse"), "claude-x", MODEL);
    for (let i = 0; i < N; i++) h.upstream.once(/^\/v1\/messages$/, () => gatedStream(sse, gate, 5));
    const upstreamBefore = h.upstream.requests.length;

    const responses = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        h.fetchFrom(PEERS[i % PEERS.length]!)(`${h.gateway.url}/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
          body: BODY,
        }),
      ),
    );
    // Every answer is in while every admitted stream is still open: all reservations overlapped.
    const admitted = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 429);
    assert.equal(admitted.length + refused.length, N, `unexpected statuses: ${responses.map((r) => r.status).join(",")}`);
    assert.equal(h.upstream.requests.length - upstreamBefore, admitted.length, "refused requests never reached the upstream");
    assert.equal(admitted.length, Math.floor(capacity / estimate));
    const refusal = (await refused[0]!.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(refusal.error.type, "rate_limit_error");
    assert.equal(refused[0]!.headers.get("x-should-retry"), "false", "the bucket never refills: no point retrying");

    open();
    const bodies = await Promise.all(admitted.map((r) => r.text()));
    assert.ok(bodies.every((b) => b.includes("message_stop")));
    // A stream's row (and its settlement, same transaction) is written just after the client has read the end.
    const ids = admitted.map((r) => r.headers.get("x-keyless-request-id")!);
    const rows = await waitFor(async () => {
      await h.gateway.requestLog.flush();
      const found = await Promise.all(ids.map(async (id) => (await h.gateway.requestLog.get(id))?.row));
      return found.every((r) => r !== undefined) ? found.map((r) => r!) : undefined;
    }, 5000, "every admitted request's row");
    const spent = rows.reduce((sum, r) => sum + r.cost_nanos!, 0);
    assert.ok(rows.every((r) => r.streamed && r.cost_nanos! > 0), "every stream was priced");
    const charged = (await one(h.gateway.store, "SELECT COUNT(*) AS n, SUM(charged_nanos) AS total, MAX(reserved_nanos) AS reserved FROM quota_charges WHERE bucket = 'team-daily'")) as {
      n: number;
      total: number;
      reserved: number;
    };
    assert.equal(charged.n, admitted.length);
    assert.equal(charged.total, spent, "the bucket was charged exactly what the log says was spent");
    assert.equal(charged.reserved, estimate);
    const balance = ((await one(h.gateway.store, "SELECT balance_nanos FROM quota_buckets WHERE bucket = 'team-daily'")) as { balance_nanos: number }).balance_nanos;
    assert.equal(balance, capacity - spent);
    assert.ok(balance >= 0, "no overspend: every reservation was an upper bound");
    t.diagnostic(
      `estimate ${formatDollars(estimate)}/request, actual ${formatDollars(rows[0]!.cost_nanos!)}; bucket ${formatDollars(capacity)}: ` +
        `admitted ${admitted.length}/${N}, spent ${formatDollars(spent)}, final balance ${formatDollars(balance)}`,
    );
  });
});
