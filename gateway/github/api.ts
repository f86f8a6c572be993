// HTTP routes of CI sessions: the Action's /v1/ci/sessions calls and the admin's /api/sessions, /api/prs views.
import type { Context, Hono } from "hono";
import { z } from "zod";
import { CreateSessionRequest, type PrSummary, type SessionSummary } from "../../src/ci-session.js";
import type { Config } from "../config/schema.js";
import type { GatewayEnv } from "../http/env.js";
import type { Refusal, SessionService } from "./sessions.js";
import { type SessionRecord, type SessionStore, toWire } from "../store/sessions.js";
import { requireRole } from "../http/require-role.js";
import { readJson } from "../http/body-limit.js";
import { apiError, zodMessage } from "../http/api-error.js";
import { SESSION_PAGE_HEADERS, renderSessionPage } from "../api/session-page.js";
import { prPagePath } from "../ui/schemas/paths.js";
import { renderMarkdown } from "./render.js";

export interface CiApiDeps {
  readonly getConfig: () => Config;
  readonly service: SessionService;
  readonly store: SessionStore;
  readonly summarize: (session: SessionRecord) => Promise<SessionSummary>;
  readonly prTotals: (repositoryId: string, prNumber: number) => Promise<PrSummary["totals"]>;
}

const SessionQuery = z.strictObject({
  repository: z.string().optional(),
  pr: z.coerce.number().int().positive().optional(),
  open: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const refused = (c: Context, r: Refusal) => apiError(c, r.status, r.code, r.message);

/**
 * For callers the network refused (runners off the tailnet): `session_token: true` sessions are admitted by the OIDC
 * token alone (where the repository mapping allows it), with the small API body limit. Tailnet nodes, and unidentified
 * callers asking for anything else, fall through (to the identified route, or to the refusal).
 */
export function mountCiPublicApi(app: Hono<GatewayEnv>, service: SessionService): void {
  app.post("/v1/ci/sessions", async (c, next) => {
    if (c.get("unidentified") === undefined) return next();
    const read = await readJson(c);
    if (!read.ok) return read.response;
    const raw = read.value;
    if (typeof raw !== "object" || raw === null || (raw as { session_token?: unknown }).session_token !== true) return next();
    const body = CreateSessionRequest.safeParse(raw);
    if (!body.success) return apiError(c, 400, "invalid_request", zodMessage(body.error));
    const result = await service.startWithToken(body.data);
    return result.ok ? c.json(result.value, 201) : refused(c, result);
  });
}

export function mountCiApi(app: Hono<GatewayEnv>, deps: CiApiDeps): void {
  const isAdmin = (c: Context<GatewayEnv>) => c.var.caller.role === "admin";

  app.post("/v1/ci/sessions", async (c) => {
    const read = await readJson(c);
    if (!read.ok) return read.response;
    const body = CreateSessionRequest.safeParse(read.value);
    if (!body.success) return apiError(c, 400, "invalid_request", zodMessage(body.error));
    if (body.data.session_token === true) {
      return apiError(c, 400, "session_token_on_tailnet", `session tokens are for runners off the tailnet; ${c.var.identity.principal} is identified by the network (use join: tailscale or join: none)`);
    }
    const result = await deps.service.start(c.var.identity, body.data);
    if (!result.ok) return refused(c, result);
    return c.json(result.value, result.value.resumed ? 200 : 201);
  });

  app.post("/v1/ci/sessions/:id/finish", async (c) => {
    const result = await deps.service.finish(c.req.param("id"), c.var.identity, isAdmin(c));
    return result.ok ? c.json({ session: result.value }) : refused(c, result);
  });

  app.get("/v1/ci/sessions/:id/summary", async (c) => {
    const found = await deps.service.owned(c.req.param("id"), c.var.identity, isAdmin(c));
    if (!found.ok) return refused(c, found);
    const summary = await deps.summarize(found.value);
    const wantsMarkdown = c.req.query("format") === "md" || (c.req.header("accept") ?? "").includes("text/markdown");
    return wantsMarkdown ? c.body(summary.markdown, 200, { "content-type": "text/markdown; charset=utf-8" }) : c.json(summary);
  });

  // The check run's details_url. People on the tailnet with a role may read any session (the check run shows the same
  // to everyone who can read the PR); machines only their own session, so one CI job cannot read another's.
  app.get("/ci/sessions/:id", async (c) => {
    const person = c.var.identity.login !== null && c.var.caller.role !== null;
    const found = await deps.service.owned(c.req.param("id"), c.var.identity, person || isAdmin(c));
    if (!found.ok) return refused(c, found);
    const summary = await deps.summarize(found.value);
    const title = `AI usage · ${summary.session.repository}${summary.session.pr_number ? ` #${summary.session.pr_number}` : ""}`;
    // Served by the gateway itself: the PR's page in the UI is linked by its path, whether or not a public URL is set.
    const { session } = summary;
    const prPageUrl = session.pr_number === null ? null : prPagePath(session.repository, session.pr_number);
    return c.html(renderSessionPage(title, renderMarkdown(summary, { detailsUrl: null, prPageUrl })), 200, SESSION_PAGE_HEADERS);
  });

  app.get("/api/sessions", requireRole("admin"), async (c) => {
    const q = SessionQuery.safeParse(c.req.query());
    if (!q.success) return apiError(c, 400, "invalid_query", zodMessage(q.error));
    const { pr, ...rest } = q.data;
    return c.json({ sessions: (await deps.store.list({ ...rest, ...(pr !== undefined ? { prNumber: pr } : {}) })).map(toWire) });
  });

  app.get("/api/sessions/:id", requireRole("admin"), async (c) => {
    const s = await deps.store.get(c.req.param("id"));
    return s ? c.json(await deps.summarize(s)) : apiError(c, 404, "session_not_found", `no CI session ${c.req.param("id")}`);
  });

  app.get("/api/prs/:owner/:repo/:number", requireRole("admin"), async (c) => {
    const number = Number(c.req.param("number"));
    if (!Number.isSafeInteger(number) || number <= 0) return apiError(c, 400, "invalid_pr", "PR number must be a positive integer");
    const repository = `${c.req.param("owner")}/${c.req.param("repo")}`;
    const sessions = await deps.store.list({ repository, prNumber: number, limit: 1000 });
    if (sessions.length === 0) return apiError(c, 404, "pr_not_found", `no CI sessions for ${repository}#${number}`);
    const body: PrSummary = {
      repository: sessions[0]!.repository,
      pr_number: number,
      totals: await deps.prTotals(sessions[0]!.repository_id, number),
      sessions: sessions.map(toWire),
    };
    return c.json(body);
  });
}
