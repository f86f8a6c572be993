// GET /api/policy/explain (admins): what a request from a principal, or from a repository's CI runner, for a model
// would meet under the running config — the role, the grants that match, the buckets charged. The same `explain` as
// `keyless policy explain`, so the editor's "what would happen" panel and the CLI cannot disagree. (It lives with the
// UI, not in api/: explain reads github/, which imports api/.)
import type { Hono } from "hono";
import { explain, repositoryRunner } from "../commands/policy-explain.js";
import type { Config } from "../config/schema.js";
import { apiError, zodMessage } from "../http/api-error.js";
import type { GatewayEnv } from "../http/env.js";
import { requireRole } from "../http/require-role.js";
import type { SessionRef } from "../proxy/exchange.js";
import { type ExplainAnswer, ExplainQuery } from "./schemas/policy.js";

type Who = { principal: string; session: SessionRef | null; repository: ExplainAnswer["repository"] } | { error: string };

function whoFor(config: Config, query: ExplainQuery): Who {
  if (query.repository === undefined) return { principal: query.principal!, session: null, repository: null };
  const runner = repositoryRunner(config, query.repository);
  if ("error" in runner) return runner;
  return { principal: query.principal ?? runner.principal, session: runner.session, repository: { name: query.repository, pattern: runner.pattern, tags: runner.tags } };
}

export function mountExplainApi(app: Hono<GatewayEnv>): void {
  app.use("/api/policy/*", requireRole("admin"));

  app.get("/api/policy/explain", (c) => {
    const query = ExplainQuery.safeParse(c.req.query());
    if (!query.success) return apiError(c, 400, "invalid_query", `expected ?principal= or ?repository=, and ?model=: ${zodMessage(query.error)}`);
    // The config this request is judged under: the running one.
    const config = c.var.caller.config;
    const who = whoFor(config, query.data);
    if ("error" in who) return apiError(c, 404, "repository_not_mapped", who.error);
    const e = explain(config, { principal: who.principal, model: query.data.model, session: who.session });
    const answer: ExplainAnswer = {
      principal: e.identity.principal,
      tags: [...e.identity.tags],
      repository: who.repository,
      model_key: e.modelKey,
      provider: e.provider,
      role: e.role,
      allowed: e.allowed,
      allowed_by: e.allowedBy,
      grants: e.grants.map((g) => ({ ...g, values: [...g.values] })),
      buckets: e.buckets,
      undefined_quotas: [...e.undefinedQuotas],
      notes: e.notes,
    };
    return c.json(answer);
  });
}
