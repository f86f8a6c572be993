// The gateway the Action talks to in these tests. Until the real CI session endpoint exists in the gateway, this is a
// stand-in implementing the src/ci-session.ts contract (token checks use the gateway's real OIDC verifier); swap the
// body of `startGateway` for the real app when it lands, and the tests stay as they are.
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { createOidcVerifier } from "../../gateway/github/oidc.js";
import { CreateSessionRequest, DEFAULT_OIDC_AUDIENCE, type Session, type SessionSummary } from "../../src/ci-session.js";
import type { FakeOidcIssuer } from "../fakes/oidc-issuer.js";

export interface ProviderCall {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: unknown;
  /** The session the call was attributed to (the stand-in has one caller node, so: the newest open session). */
  readonly session: string | null;
}

export interface TestGateway {
  readonly url: string;
  readonly sessions: Session[];
  /** Raw bodies of POST /v1/ci/sessions, tokens included, for assertions. */
  readonly createRequests: CreateSessionRequest[];
  readonly finished: string[];
  readonly providerCalls: ProviderCall[];
  /** Makes /healthz answer 503 (false) or 200 (true). */
  healthy: boolean;
  /** When set, POST /v1/ci/sessions answers this error. */
  refuse: { status: 403 | 401 | 400; code: string; message: string } | null;
  /** Pause between streamed events of /v1/messages. */
  streamDelayMs: number;
  close(): Promise<void>;
}

export async function startGateway(opts: { issuer: FakeOidcIssuer; audience?: string }): Promise<TestGateway> {
  const seen = new Map<string, number>();
  const verify = createOidcVerifier({
    issuer: opts.issuer.issuer,
    audience: opts.audience ?? DEFAULT_OIDC_AUDIENCE,
    clockToleranceMs: 30_000,
    ledger: { claim: (jti, until) => (seen.has(jti) ? false : (seen.set(jti, until), true)) },
  });
  const app = new Hono();
  const apiError = (code: string, message: string) => ({ error: { code, message } });

  app.get("/healthz", (c) => (gw.healthy ? c.json({ status: "ok" }) : c.json({ status: "starting" }, 503)));

  app.post("/v1/ci/sessions", async (c) => {
    const parsed = CreateSessionRequest.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) return c.json(apiError("bad_request", parsed.error.message), 400);
    gw.createRequests.push(parsed.data);
    if (gw.refuse) return c.json(apiError(gw.refuse.code, gw.refuse.message), gw.refuse.status);
    const result = await verify(parsed.data.oidc_token);
    if (!result.ok) return c.json(apiError(result.code, result.message), 401);
    const cl = result.claims;
    const prFromRef = /^refs\/pull\/(\d+)\/merge$/.exec(cl.ref);
    const session: Session = {
      id: `ses_${randomUUID()}`,
      node_id: "nStandInNode",
      repository: cl.repository,
      repository_id: cl.repository_id,
      owner: cl.repository_owner,
      owner_id: cl.repository_owner_id,
      pr_number: prFromRef ? Number(prFromRef[1]) : (parsed.data.pr_number ?? null),
      head_sha: parsed.data.head_sha ?? (prFromRef ? null : cl.sha),
      sha: cl.sha,
      run_id: cl.run_id,
      run_attempt: cl.run_attempt,
      workflow: cl.workflow,
      job: null,
      actor: cl.actor,
      event: cl.event_name,
      ref: cl.ref,
      started_at: new Date().toISOString(),
      finished_at: null,
      finish_reason: null,
      check_run_id: null,
      check_run_url: null,
    };
    gw.sessions.push(session);
    return c.json({ session, resumed: false }, 201);
  });

  const find = (id: string) => gw.sessions.find((s) => s.id === id);
  app.post("/v1/ci/sessions/:id/finish", (c) => {
    const s = find(c.req.param("id"));
    if (!s) return c.json(apiError("session_not_found", "no such session"), 404);
    s.finished_at = new Date().toISOString();
    s.finish_reason = "finished";
    gw.finished.push(s.id);
    return c.json({ session: s });
  });
  app.get("/v1/ci/sessions/:id/summary", (c) => {
    const s = find(c.req.param("id"));
    if (!s) return c.json(apiError("session_not_found", "no such session"), 404);
    const calls = gw.providerCalls.filter((p) => p.session === s.id).length;
    return c.json(summaryOf(s, calls));
  });

  // Provider routes, enough for SDKs: they record the call and stream a short answer slowly (to observe streaming).
  const record = async (c: { req: { path: string; raw: Request; json(): Promise<unknown> } }) => {
    const open = [...gw.sessions].reverse().find((s) => !s.finished_at);
    gw.providerCalls.push({
      path: c.req.path,
      headers: Object.fromEntries(c.req.raw.headers),
      body: await c.req.json().catch(() => null),
      session: open?.id ?? null,
    });
  };
  app.post("/v1/messages", async (c) => {
    await record(c);
    return streamSSE(c, async (s) => {
      const events: [string, unknown][] = [
        ["message_start", { type: "message_start", message: { id: "msg_1", type: "message", role: "assistant", model: "claude-test", content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 3, output_tokens: 0 } } }],
        ["content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }],
        ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "hello " } }],
        ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "from keyless" } }],
        ["content_block_stop", { type: "content_block_stop", index: 0 }],
        ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 4 } }],
        ["message_stop", { type: "message_stop" }],
      ];
      for (const [event, data] of events) {
        await s.writeSSE({ event, data: JSON.stringify(data) });
        await s.sleep(gw.streamDelayMs);
      }
    });
  });
  app.post("/v1/chat/completions", async (c) => {
    await record(c);
    return c.json({
      id: "chatcmpl-1",
      object: "chat.completion",
      created: 1,
      model: "gpt-test",
      choices: [{ index: 0, message: { role: "assistant", content: "hello from keyless" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    });
  });

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const gw: TestGateway = {
    url: `http://127.0.0.1:${port}`,
    sessions: [],
    createRequests: [],
    finished: [],
    providerCalls: [],
    healthy: true,
    refuse: null,
    streamDelayMs: 0,
    close: () =>
      new Promise<void>((resolve) => {
        (server as ServerType & { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
  return gw;
}

function summaryOf(session: Session, requests: number): SessionSummary {
  const zero = { requests, errors: 0, denials: 0, input_tokens: 3 * requests, cache_read_tokens: 0, cache_write_tokens: 0, output_tokens: 4 * requests, cost_nanos: 0, unpriced_requests: 0, tool_calls: 0 };
  return {
    session,
    totals: zero,
    by_model: [],
    problems: [],
    tool_calls_by_kind: [],
    commands: [],
    commands_omitted: 0,
    mcp: [],
    findings: [],
    budgets: [],
    pr: null,
    markdown: `### AI usage\n\nSession \`${session.id}\` of ${session.repository}: ${requests} request(s).\n`,
  };
}
