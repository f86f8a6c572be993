// Three `keyless serve` processes on one PostgreSQL database behave as one gateway: every request is logged once and
// visible from each replica, each webhook event is delivered once, a budget holds across the three under 300
// concurrent streams. A replica killed with SIGKILL under load loses no request whose response completed more than one
// second earlier, the others keep serving and deliver the webhook messages it had claimed. The database going away
// (the test's own server stopped and started again: open connections cut, new ones refused) answers budgeted requests with a clear 503
// and the replicas recover by themselves once it is back.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { DEFAULT_QUOTA_ESTIMATE } from "../../gateway/config/quotas.js";
import { anthropicMessages } from "../../gateway/dialects/anthropic/codec.js";
import { createPricer } from "../../gateway/pricing/prices.js";
import type { Exchange } from "../../gateway/proxy/exchange.js";
import { estimateCost } from "../../gateway/quotas/estimate.js";
import { type FakeTailscaledProcess, startFakeTailscaledProcess } from "../fakes/tailscaled-process.js";
import { type FakeUpstream, startFakeUpstream } from "../fakes/upstream.js";
import { startCli } from "../helpers/cli.js";
import { KEYS, defaultProviders, sourceAgent } from "../helpers/gateway.js";
import { type TestDatabase, createTestDatabase } from "../helpers/postgres.js";
import { type PrivatePostgres, startPrivatePostgres } from "../helpers/private-postgres.js";
import { waitFor } from "../helpers/wait.js";

const CAP = "keyless.dev/cap/gateway";
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const DEVS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
const SPENDERS = ["127.0.0.5", "127.0.0.6"];
const ADMIN = "127.0.0.9";
const MODEL = "claude-sonnet-4-6";
const STREAM_BODY = JSON.stringify({ model: MODEL, max_tokens: 1000, stream: true, messages: [{ role: "user", content: "run the tests" }] });
const HEADERS = { "content-type": "application/json", "anthropic-version": "2023-06-01" };
const BURST = 300;

/** The reservation each budgeted stream makes, computed by the gateway's own function. */
function estimate(): number {
  const parsed = JSON.parse(STREAM_BODY) as unknown;
  const ex = { body: parsed, info: anthropicMessages.requestInfo(parsed), format: anthropicMessages, provider: { name: "anthropic", adapter: { priceProvider: "anthropic" } }, model: MODEL };
  return estimateCost(ex as unknown as Exchange, createPricer({}), DEFAULT_QUOTA_ESTIMATE).nanos;
}

/** A stream that holds after its first event until `gate` opens, so every admitted stream is open at once. */
function gatedStream(gate: Promise<void>): Response {
  const events = [
    { type: "message_start", message: { id: "msg_g", type: "message", role: "assistant", model: MODEL, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 12, output_tokens: 1 } } },
    { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } },
    { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "ok" } },
    { type: "content_block_stop", index: 0 },
    { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 500 } },
    { type: "message_stop" },
  ].map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(encoder.encode(events[0]!));
      await gate;
      for (const e of events.slice(1)) controller.enqueue(encoder.encode(e));
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream; charset=utf-8" } });
}

/**
 * A webhook receiver that counts deliveries per webhook-id, answers after `delayMs`, and records any id delivered
 * twice at the same time (two replicas, or two claims, on one message).
 */
async function startReceiver() {
  const seen = new Map<string, number>();
  const inFlight = new Set<string>();
  const overlapping = new Set<string>();
  const state = { delayMs: 0 };
  const server = http.createServer((req, res) => {
    const id = String(req.headers["webhook-id"] ?? "");
    if (inFlight.has(id)) overlapping.add(id);
    inFlight.add(id);
    req.resume();
    req.on("end", () => {
      setTimeout(() => {
        seen.set(id, (seen.get(id) ?? 0) + 1);
        inFlight.delete(id);
        res.writeHead(204).end();
      }, state.delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/audit`,
    seen,
    overlapping,
    state,
    close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

interface Replica {
  readonly child: ChildProcess;
  readonly url: string;
  stderr(): string;
}

describe("three replicas on one PostgreSQL database", () => {
  const capacity = Math.floor(10.5 * estimate());
  let server: PrivatePostgres;
  let pg: TestDatabase;
  let upstream: FakeUpstream;
  let tailscaled: FakeTailscaledProcess;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let replicas: Replica[];
  const agents = new Map<string, ReturnType<typeof sourceAgent>>();
  const fetchFrom = (ip: string): typeof fetch => {
    if (!agents.has(ip)) agents.set(ip, sourceAgent(ip, { connections: 400 }));
    const dispatcher = agents.get(ip)!;
    return ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, dispatcher } as RequestInit)) as typeof fetch;
  };
  const claude = (ip: string, r: Replica) => new Anthropic({ apiKey: "placeholder", baseURL: r.url, fetch: fetchFrom(ip), maxRetries: 0, timeout: 30_000 });
  const ask = async (ip: string, r: Replica, stream: boolean) => {
    const params = { model: MODEL, max_tokens: 20, messages: [{ role: "user" as const, content: "hi" }] };
    if (stream) {
      const s = claude(ip, r).messages.stream(params);
      const { response } = await s.withResponse();
      await s.finalMessage();
      return response.headers.get("x-keyless-request-id")!;
    }
    const { response } = await claude(ip, r).messages.create(params).withResponse();
    return response.headers.get("x-keyless-request-id")!;
  };
  /** The request ids one replica's API lists (an admin's view: everyone's requests). */
  const listed = async (r: Replica, since = 0): Promise<string[]> => {
    const res = await fetchFrom(ADMIN)(`${r.url}/api/requests?limit=1000&since=${since}`);
    assert.equal(res.status, 200);
    return ((await res.json()) as { requests: { id: string }[] }).requests.map((x) => x.id);
  };

  before(async () => {
    // The test's own server: it is really restarted below.
    server = await startPrivatePostgres();
    pg = await createTestDatabase(server.adminUrl);
    upstream = await startFakeUpstream({ keys: KEYS });
    const peers = Object.fromEntries([
      ...DEVS.map((ip, i) => [ip, { login: `dev${i}@example.com` }]),
      ...SPENDERS.map((ip, i) => [ip, { login: `spender${i}@example.com` }]),
      [ADMIN, { login: "admin@example.com" }],
    ]);
    tailscaled = await startFakeTailscaledProcess(peers);
    receiver = await startReceiver();
    const config = {
      identity: { type: "tailscale", socket: tailscaled.socketPath },
      providers: defaultProviders(upstream.url),
      // A hook timeout this machine's load never reaches (a timed-out delivery is retried: at least once, by design).
      database: { type: "postgres", url: pg.url, pool_size: 20, claim_lease: "8s" },
      hooks: { audit: { url: receiver.url, secret: SECRET, timeout: "5s", retry: { initial: "100ms", max: "300ms" } } },
      quotas: { shared: { capacity: `$${(capacity / 1e9).toFixed(9)}`, rate: "$0/day" } },
      grants: [
        { src: ["admin@example.com"], app: { [CAP]: [{ role: "admin", models: "**" }] } },
        { src: DEVS.map((_, i) => `dev${i}@example.com`), app: { [CAP]: [{ role: "user", models: "**", send_hooks: [{ name: "audit", events: ["entire_request"] }] }] } },
        { src: SPENDERS.map((_, i) => `spender${i}@example.com`), app: { [CAP]: [{ role: "user", models: "**", quotas: [{ bucket: "shared" }] }] } },
      ],
    };
    const path = join(mkdtempSync(join(tmpdir(), "keyless-replicas-")), "keyless.jsonc");
    writeFileSync(path, JSON.stringify(config, null, 2));
    replicas = await Promise.all([0, 1, 2].map(() => startCli(path)));
  });

  after(async () => {
    for (const r of replicas ?? []) r.child.kill("SIGKILL");
    await Promise.all([...agents.values()].map((a) => a.close()));
    await receiver?.close();
    await upstream?.close();
    await tailscaled?.close();
    await pg?.drop();
    server?.close();
  });

  it("logs every request once, visible from each replica, and delivers each webhook event once", async () => {
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 12 }, async (_, worker) => {
        for (let i = 0; i < 5; i++) {
          const n = worker * 5 + i;
          ids.push(await ask(DEVS[n % DEVS.length]!, replicas[n % 3]!, n % 2 === 0));
        }
      }),
    );
    assert.equal(new Set(ids).size, 60);
    for (const r of replicas) {
      const seen = await waitFor(async () => {
        const list = await listed(r);
        return ids.every((id) => list.includes(id)) && list;
      }, 10_000, `every request listed by ${r.url}`);
      assert.equal(seen.length, new Set(seen).size, "no request listed twice");
    }
    const msgIds = ids.map((id) => `msg_${id}_entire_request_audit`);
    await waitFor(() => msgIds.every((m) => receiver.seen.has(m)), 15_000, "every webhook event");
    await new Promise((r) => setTimeout(r, 1000));
    const twice = msgIds.filter((m) => receiver.seen.get(m) !== 1);
    assert.deepEqual(twice, [], "each event delivered once");
    assert.deepEqual([...receiver.overlapping], [], "never two deliveries of one message at a time");
  });

  it("a budget shared by the three holds under 300 concurrent streams", async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    // One held stream per admission the bucket covers; anything admitted beyond that gets an ordinary answer.
    const fits = Math.floor(capacity / estimate());
    for (let i = 0; i < fits; i++) upstream.once(/^\/v1\/messages$/, () => gatedStream(gate));
    const before = upstream.requests.length;
    // All at once; the admitted ones stay open on the gate until every answer is in.
    const responses = await Promise.all(
      Array.from({ length: BURST }, async (_, i) => {
        const res = await fetchFrom(SPENDERS[i % SPENDERS.length]!)(`${replicas[i % 3]!.url}/v1/messages`, { method: "POST", headers: HEADERS, body: STREAM_BODY });
        return { res, replica: i % 3 };
      }),
    );
    const statuses = responses.map((r) => r.res.status);
    const odd = responses.find((r) => r.res.status !== 200 && r.res.status !== 429);
    assert.ok(!odd, `status ${odd?.res.status}: ${odd ? await odd.res.text() : ""}`);
    const admitted = responses.filter((r) => r.res.status === 200);
    assert.equal(admitted.length, fits, "exactly what the bucket covers was admitted across the three");
    assert.equal(upstream.requests.length - before, admitted.length, "refused streams never reached the upstream");
    open();
    await Promise.all(responses.map((r) => r.res.text()));
    const charged = await waitFor(async () => {
      const { rows } = await pg.pool.query<{ n: string; total: string | null }>("SELECT COUNT(*) AS n, SUM(charged_nanos) AS total FROM quota_charges WHERE bucket = 'shared'");
      return Number(rows[0]!.n) === admitted.length && Number(rows[0]!.total);
    }, 15_000, "every admitted stream settled");
    const { rows } = await pg.pool.query<{ balance: string }>("SELECT balance_nanos AS balance FROM quota_buckets WHERE bucket = 'shared'");
    assert.equal(Number(rows[0]!.balance), capacity - charged, "the bucket was charged exactly what was spent");
    assert.ok(Number(rows[0]!.balance) >= 0, "never below zero");
  });

  it("a replica killed with SIGKILL under load loses no completed request; the others serve and deliver its claimed events", async () => {
    receiver.state.delayMs = 400; // deliveries in flight when the replica dies (well inside the hook timeout)
    const done: { id: string; at: number; replica: number }[] = [];
    const failedAfterKill: string[] = [];
    let killedAt = Number.POSITIVE_INFINITY;
    const victim = 2;
    const startedAt = Date.now();
    const stopAt = startedAt + 5000;
    const load = Promise.all(
      Array.from({ length: 9 }, async (_, worker) => {
        for (let n = 0; Date.now() < stopAt; n++) {
          const replica = (worker + n) % 3;
          if (replica === victim && Date.now() >= killedAt) continue;
          try {
            const id = await ask(DEVS[worker % DEVS.length]!, replicas[replica]!, n % 2 === 0);
            done.push({ id, at: Date.now(), replica });
          } catch (err) {
            if (replica !== victim) failedAfterKill.push(`replica ${replica}: ${String(err)}`);
            else if (Date.now() < killedAt) throw err;
          }
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 3000));
    killedAt = Date.now();
    replicas[victim]!.child.kill("SIGKILL");
    await load;
    assert.deepEqual(failedAfterKill, [], "the other replicas kept serving");
    assert.ok(done.filter((d) => d.at > killedAt).length > 10, "requests completed after the kill");
    const survivor = replicas[0]!;
    await new Promise((r) => setTimeout(r, 1000));
    const list = new Set(await listed(survivor, startedAt));
    const lost = done.filter((d) => d.at < killedAt - 1000 && !list.has(d.id));
    const victimDone = done.filter((d) => d.replica === victim);
    const summary = `victim completed ${victimDone.length}, logged ${victimDone.filter((d) => list.has(d.id)).length}; lost completed at ${lost.map((d) => d.at - killedAt).join(",")} ms from the kill; logged at ${victimDone.filter((d) => list.has(d.id)).map((d) => d.at - killedAt).join(",")}`;
    assert.deepEqual(lost, [], `every request that completed more than 1 s before the kill is logged (${summary}); its log:\n${replicas[victim]!.stderr().slice(-3000)}`);
    const logged = done.filter((d) => list.has(d.id));
    const fromVictim = logged.filter((d) => d.replica === victim).map((d) => `msg_${d.id}_entire_request_audit`);
    assert.ok(fromVictim.length > 0);
    // Its claims lapse after claim_lease (8 s); the survivors deliver what it had claimed or not yet sent.
    await waitFor(() => logged.every((d) => receiver.seen.has(`msg_${d.id}_entire_request_audit`)), 30_000, "every logged request's event delivered");
    assert.deepEqual([...receiver.overlapping], [], "never two deliveries of one message at a time");
    receiver.state.delayMs = 0;
  });

  it("PostgreSQL restarted: budgeted requests get a clear 503 while it is down (nothing admitted it cannot record), and the replicas recover by themselves", async () => {
    const [a, b] = [replicas[0]!, replicas[1]!];
    server.stop();
    const err = await claude(SPENDERS[0]!, a).messages.create({ model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "x" }] }).catch((e: unknown) => e);
    assert.ok(err instanceof Anthropic.APIError, String(err));
    assert.equal(err.status, 503, `${String(err)}; its log:\n${a.stderr().slice(-3000)}`);
    assert.match(err.message, /unavailable/i);
    server.start();
    const id = await waitFor(
      () => ask(DEVS[0]!, b, false).catch(() => undefined),
      20_000,
      "a request through a replica once the database is back",
    ).catch((err: unknown) => assert.fail(`${String(err)}; its log:\n${b.stderr().slice(-3000)}`));
    await waitFor(async () => (await listed(a)).includes(id), 20_000, "the request visible from the other replica");
    const spent = await waitFor(
      async () => {
        const res = await fetchFrom(SPENDERS[1]!)(`${a.url}/v1/messages`, { method: "POST", headers: HEADERS, body: JSON.stringify({ model: MODEL, max_tokens: 5, messages: [{ role: "user", content: "x" }] }) });
        await res.text();
        return res.status !== 503 && res.status;
      },
      20_000,
      "budgeted requests decided again",
    );
    assert.ok(spent === 200 || spent === 429, `status ${spent}`);
  });
});
