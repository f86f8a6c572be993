// The live config API (admins): GET /api/config (file text, secrets never expanded, and its hash), PUT /api/config
// (with the hash it was read at), POST /api/config/validate, GET /api/config/status, GET /api/config/history[/:id].
import type { Context, Hono } from "hono";
import { z } from "zod";
import type { LiveConfig, ConfigRefusal } from "../config/live.js";
import type { Config } from "../config/schema.js";
import { literalSecrets } from "../config/text.js";
import type { GatewayEnv } from "../http/env.js";
import { accessUnder } from "../access/grants.js";
import type { ConfigAudit } from "../store/config-audit.js";
import { requireRole } from "../http/require-role.js";
import { readJson } from "../http/body-limit.js";
import { apiError, zodMessage } from "../http/api-error.js";
import { HistoryAnswer, HistoryEntryAnswer, HistoryId } from "../ui/schemas/policy.js";

export interface ConfigApiDeps {
  /** Null when the gateway was started without a config file: every route then says so. */
  readonly live: LiveConfig | null;
  readonly audit: ConfigAudit;
  readonly getConfig: () => Config;
}

const PutBody = z.strictObject({ config: z.string().min(1), hash: z.string().regex(/^[0-9a-f]{64}$/, "expected the 64-hex hash GET /api/config returned") });
const ValidateBody = z.strictObject({ config: z.string().min(1) });

function refused(c: Context<GatewayEnv>, r: ConfigRefusal): Response {
  return c.json({ error: { code: r.code, message: r.message }, problems: r.problems }, r.status);
}

export function mountConfigApi(app: Hono<GatewayEnv>, deps: ConfigApiDeps): void {
  const guardFor = (c: Context<GatewayEnv>) => (next: Config) =>
    accessUnder(c.var.identity, next).role === "admin"
      ? null
      : `the change would remove your own admin role (${c.var.identity.principal}); grant it in the new config or the tailnet policy first`;

  // Hono's "/api/config/*" also matches "/api/config" itself.
  app.use("/api/config/*", requireRole("admin"), async (c, next) => {
    if (!deps.live) return apiError(c, 404, "no_config_file", "this gateway was started without a config file; the config API needs one");
    await next();
  });

  app.get("/api/config", (c) => {
    const live = deps.live!;
    let file: { text: string; hash: string };
    try {
      file = live.readFile();
    } catch (err) {
      return apiError(c, 500, "read_failed", `cannot read ${live.path}: ${(err as Error).message}`);
    }
    const secrets = literalSecrets(file.text);
    if (secrets.length > 0) {
      const where = secrets.map((s) => s.path).join(", ");
      return apiError(c, 409, "literal_secrets", `the config file holds credentials written literally (${where}); move them to \${ENV} references to use the config API`);
    }
    return c.json({ config: file.text, hash: file.hash, running_hash: live.current().hash, path: live.path });
  });

  app.put("/api/config", async (c) => {
    const read = await readJson(c);
    if (!read.ok) return read.response;
    const body = PutBody.safeParse(read.value);
    if (!body.success) return apiError(c, 400, "invalid_body", `expected {"config": "<text>", "hash": "<hash read>"}: ${zodMessage(body.error)}`);
    const result = deps.live!.update(body.data.config, body.data.hash, c.var.identity.principal, guardFor(c));
    if (!result.ok) return refused(c, result);
    return c.json({ hash: result.loaded.hash, restart_required: result.restartRequired, warnings: result.loaded.warnings });
  });

  app.post("/api/config/validate", async (c) => {
    const read = await readJson(c);
    if (!read.ok) return read.response;
    const body = ValidateBody.safeParse(read.value);
    if (!body.success) return apiError(c, 400, "invalid_body", `expected {"config": "<text>"}: ${zodMessage(body.error)}`);
    const result = deps.live!.validate(body.data.config, guardFor(c));
    if (!result.ok) return refused(c, result);
    return c.json({ ok: true, hash: result.loaded.hash, restart_required: result.restartRequired, warnings: result.loaded.warnings });
  });

  app.get("/api/config/status", (c) => c.json(deps.live!.status()));

  app.get("/api/config/history", async (c) => {
    const limit = Number(c.req.query("limit") ?? 50);
    const answer: z.infer<typeof HistoryAnswer> = { changes: await deps.audit.list(Number.isFinite(limit) ? limit : 50) };
    return c.json(answer);
  });

  // One change with the text it applied: what the editor shows and restores (through PUT, with the current hash).
  app.get("/api/config/history/:id", async (c) => {
    const id = HistoryId.safeParse(c.req.param("id"));
    if (!id.success) return apiError(c, 400, "invalid_id", `expected a change id from /api/config/history: ${zodMessage(id.error)}`);
    const change = await deps.audit.get(id.data);
    if (!change) return apiError(c, 404, "no_such_change", `no config change ${id.data}`);
    const answer: z.infer<typeof HistoryEntryAnswer> = { change };
    return c.json(answer);
  });
}
