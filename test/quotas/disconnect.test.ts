// Issue 11, hole 2: a client that disconnects does not get its reservation back while the provider keeps generating
// (and billing). The answer is still read, within `read_after_disconnect`, and charged at its actual usage; an answer
// that does not come in time is charged the reservation; only a request that never reached the provider is refunded.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { Readable } from "node:stream";
import { boundAfterDisconnect, neverSent, outliveClient } from "../../gateway/proxy/upstream.js";
import { type Harness, KEYS, startHarness } from "../helpers/gateway.js";
import { waitFor } from "../helpers/wait.js";
import { all } from "../helpers/store.js";

const CAP = "keyless.dev/cap/gateway";
const MALLORY = "127.0.0.2";
const SLOW = "127.0.0.3";
const STREAMER = "127.0.0.4";
const DEAD = "127.0.0.5";
/** What the fake provider bills each answer: 50 input and 1000 output tokens of claude-sonnet-4-6 ($3 / $15 per Mtok). */
const USAGE = { input_tokens: 50, output_tokens: 1000 };
const ACTUAL = 50 * 3000 + 1000 * 15_000;
const BUCKET = 50_000_000; // $0.05

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const message = (model: string) =>
  Response.json({ id: "msg_slow", type: "message", role: "assistant", model, content: [{ type: "text", text: "ok" }], stop_reason: "end_turn", stop_sequence: null, usage: USAGE });

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// One fake upstream queue for all: the tests run one at a time.
describe("a client that disconnects is still charged (issue 11, hole 2)", { concurrency: 1 }, () => {
  let h: Harness;
  before(async () => {
    const dead = await closedPort();
    h = await startHarness({
      peers: {
        [MALLORY]: { login: "mallory@example.com" },
        [SLOW]: { login: "slow@example.com" },
        [STREAMER]: { login: "streamer@example.com" },
        [DEAD]: { login: "dead@example.com" },
      },
      config: (url) => ({
        providers: {
          anthropic: { type: "anthropic", baseurl: url, apikey: KEYS.anthropic, models: ["claude-sonnet-*"] },
          unreachable: { type: "anthropic", baseurl: `http://127.0.0.1:${dead}`, apikey: KEYS.anthropic, models: ["claude-haiku-*"] },
        },
        quotas: { "small:<user>": { capacity: "$0.05", rate: "$0/day" } },
        grants: [{ src: ["*"], app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "small:<user>" }] }] } }],
        quota_estimate: { read_after_disconnect: "1s" },
      }),
    });
  });
  after(() => h.close());

  const client = (from: string) => new Anthropic({ apiKey: "placeholder", baseURL: h.gateway.url, fetch: h.fetchFrom(from), maxRetries: 0 });
  const params = { model: "claude-sonnet-4-6", max_tokens: 1000, messages: [{ role: "user" as const, content: "hi" }] };
  const bucket = async (from: string) => {
    const res = await h.fetchFrom(from)(`${h.gateway.url}/api/quotas`);
    const { buckets } = (await res.json()) as { buckets: { bucket: string; balance_nanos: number; reserved_nanos: number }[] };
    return buckets[0]!;
  };
  const chargesOf = async (login: string) => {
    await h.gateway.requestLog.flush();
    return (await all(h.gateway.store, "SELECT reserved_nanos, charged_nanos, at_reservation FROM quota_charges WHERE bucket = ? ORDER BY ts, request_id", `small:${login}`)) as { reserved_nanos: number; charged_nanos: number; at_reservation: number }[];
  };

  it("an answer that does not complete within read_after_disconnect is charged the reservation", async () => {
    h.upstream.once(/^\/v1\/messages$/, () => {
      // Headers at once, then a body that never ends: the gateway gives up 1 s after the client left.
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode('{"id":"msg_slow",'));
          setTimeout(() => c.error(new Error("fake upstream gave up")), 5000).unref();
        },
      });
      return new Response(body, { headers: { "content-type": "application/json" } });
    });
    const abort = new AbortController();
    const sent = h.upstream.requests.length;
    const call = client(SLOW).messages.create(params, { signal: abort.signal }).catch((err: unknown) => err);
    await waitFor(async () => h.upstream.requests.length > sent, 5000, "the upstream to get the request");
    abort.abort();
    assert.ok((await call) instanceof Anthropic.APIUserAbortError);
    const [charge] = await waitFor(async () => ((await chargesOf("slow@example.com")).length > 0 ? chargesOf("slow@example.com") : undefined), 5000, "the settlement");
    assert.equal(charge!.at_reservation, 1);
    assert.equal(charge!.charged_nanos, charge!.reserved_nanos);
    assert.ok(charge!.charged_nanos > 15_000_000);
    const row = (await h.gateway.requestLog.list({ limit: 20 })).find((r) => r.login === "slow@example.com");
    assert.equal(row?.error, "upstream anthropic broke off its response: client disconnected; upstream answer not complete 1000 ms later");
    assert.ok(row?.flags.includes("quota_settled_at_reservation"));
    assert.equal((await bucket(SLOW)).balance_nanos, BUCKET - charge!.reserved_nanos);
  });

  it("an answer whose headers do not come within read_after_disconnect is charged the reservation", async () => {
    h.upstream.once(/^\/v1\/messages$/, async (req) => {
      await sleep(2500);
      return message(String(JSON.parse(req.body).model));
    });
    const abort = new AbortController();
    const sent = h.upstream.requests.length;
    const login = "slow@example.com";
    const before = (await chargesOf(login)).length;
    const call = client(SLOW).messages.create(params, { signal: abort.signal }).catch((err: unknown) => err);
    await waitFor(async () => h.upstream.requests.length > sent, 5000, "the upstream to get the request");
    abort.abort();
    assert.ok((await call) instanceof Anthropic.APIUserAbortError);
    const charges = await waitFor(async () => ((await chargesOf(login)).length > before ? chargesOf(login) : undefined), 5000, "the settlement");
    const charge = charges[charges.length - 1]!;
    assert.equal(charge.at_reservation, 1);
    assert.equal(charge.charged_nanos, charge.reserved_nanos);
    const row = (await h.gateway.requestLog.list({ limit: 20 })).find((r) => r.login === login);
    assert.equal(row?.error, "upstream anthropic failed: client disconnected; upstream answer not complete 1000 ms later");
  });

  it("a stream whose client left before the answer started is charged at least the reservation", async () => {
    h.upstream.once(/^\/v1\/messages$/, async (req) => {
      await sleep(200);
      const { sseResponse } = await import("../fakes/upstream.js");
      const { capture, withModel } = await import("../fakes/fixtures.js");
      return sseResponse(withModel(capture("fixtures/anthropic-messages-tool_use.sse"), "claude-x", String(JSON.parse(req.body).model)));
    });
    const abort = new AbortController();
    const sent = h.upstream.requests.length;
    const call = client(STREAMER).messages.create({ ...params, stream: true }, { signal: abort.signal }).catch((err: unknown) => err);
    await waitFor(async () => h.upstream.requests.length > sent, 5000, "the upstream to get the request");
    abort.abort();
    assert.ok((await call) instanceof Anthropic.APIUserAbortError);
    const [charge] = await waitFor(async () => ((await chargesOf("streamer@example.com")).length > 0 ? chargesOf("streamer@example.com") : undefined), 5000, "the settlement");
    assert.ok(charge!.charged_nanos >= charge!.reserved_nanos && charge!.reserved_nanos > 0, JSON.stringify(charge));
  });

  it("refunds only a request that provably never reached the provider (connection refused)", async () => {
    const err = await client(DEAD).messages.create({ ...params, model: "claude-haiku-4-5" }).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.InternalServerError || err instanceof Anthropic.APIError, String(err));
    const [charge] = await waitFor(async () => ((await chargesOf("dead@example.com")).length > 0 ? chargesOf("dead@example.com") : undefined), 5000, "the settlement");
    assert.ok(charge!.reserved_nanos > 0);
    assert.equal(charge!.charged_nanos, 0);
    assert.equal((await bucket(DEAD)).balance_nanos, BUCKET);
  });
  it("twenty requests aborted mid-flight cannot spend more than the $0.05 bucket; each is charged its actual usage", async () => {
    let received = 0;
    let queued = 0;
    let refused = 0;
    for (let i = 0; i < 20; i++) {
      if (queued === received) {
        queued++;
        h.upstream.once(/^\/v1\/messages$/, async (req) => {
          received++;
          await sleep(200); // still generating when the client leaves
          return message(String(JSON.parse(req.body).model));
        });
      }
      const abort = new AbortController();
      const before = received;
      const call = client(MALLORY).messages.create(params, { signal: abort.signal }).then(
        () => "answered",
        (err: unknown) => (err instanceof Anthropic.RateLimitError ? "refused" : "aborted"),
      );
      const first = await Promise.race([call, waitFor(async () => received > before, 5000, "the upstream to get the request").then(() => "sent")]);
      if (first === "refused") {
        refused++;
        continue;
      }
      abort.abort();
      assert.equal(await call, "aborted");
    }
    await waitFor(async () => (await bucket(MALLORY)).reserved_nanos === 0 || undefined, 10_000, "every reservation settled");
    const billed = received * ACTUAL;
    assert.ok(billed <= BUCKET, `the provider billed $${billed / 1e9} against a $0.05 bucket (${received} requests reached it)`);
    assert.equal(refused, 20 - received);
    assert.equal(received, 3, "three requests fit the bucket ($0.0153 reserved each)");
    const charges = await chargesOf("mallory@example.com");
    assert.deepEqual(
      charges.map((c) => [c.charged_nanos, c.at_reservation]),
      Array.from({ length: received }, () => [ACTUAL, 0]),
      "each abandoned request was read to its end and charged its actual usage",
    );
    assert.equal((await bucket(MALLORY)).balance_nanos, BUCKET - received * ACTUAL);
  });
});

describe("reading an answer after its client left: the bounds", () => {
  const chunks = (n: number, size: number) => Readable.from(Array.from({ length: n }, () => Buffer.alloc(size, 120)));
  const drain = async (body: Readable) => {
    let bytes = 0;
    for await (const chunk of body) bytes += (chunk as Buffer).byteLength;
    return bytes;
  };

  it("reads any size while the client is there, at most maxBytes once it has left", async () => {
    assert.equal(await drain(boundAfterDisconnect(chunks(10, 1000), new AbortController().signal, 2500)), 10_000);
    const gone = new AbortController();
    gone.abort();
    await assert.rejects(drain(boundAfterDisconnect(chunks(10, 1000), gone.signal, 2500)), /client disconnected; upstream answer larger than 2500 bytes/);
  });

  it("aborts the upstream call only read_after_disconnect after the client left", async () => {
    const client = new AbortController();
    const upstream = outliveClient(client.signal, 100);
    await sleep(150);
    assert.equal(upstream.aborted, false, "the client is still there");
    client.abort();
    await sleep(50);
    assert.equal(upstream.aborted, false, "within the grace");
    await sleep(100);
    assert.equal(upstream.aborted, true);
    assert.match(String((upstream.reason as Error).message), /client disconnected; upstream answer not complete 100 ms later/);
  });

  it("calls a request never sent only when no connection existed", async () => {
    assert.equal(neverSent(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })), true);
    assert.equal(neverSent({ cause: { code: "ENOTFOUND" } }), true);
    assert.equal(neverSent(Object.assign(new Error("timeout"), { code: "UND_ERR_CONNECT_TIMEOUT" })), true);
    for (const code of ["ECONNRESET", "UND_ERR_SOCKET", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_ABORTED", undefined]) {
      assert.equal(neverSent(Object.assign(new Error("x"), { code })), false, String(code));
    }
  });
});
