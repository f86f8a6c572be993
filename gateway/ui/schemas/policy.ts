// Shapes of the config and policy API, shared by the gateway (which answers in them) and the editor's script (which
// checks every answer against them). zod only: this file is bundled into the browser script.
import * as z from "zod";

const Hash = z.string().regex(/^[0-9a-f]{64}$/);

/** GET /api/config. */
export const ConfigFileAnswer = z.object({ config: z.string(), hash: Hash, running_hash: Hash, path: z.string() });

/** POST /api/config/validate, accepted. */
export const ValidateAnswer = z.object({ ok: z.literal(true), hash: Hash, restart_required: z.array(z.string()), warnings: z.array(z.string()) });

/** PUT /api/config, applied. */
export const SaveAnswer = z.object({ hash: Hash, restart_required: z.array(z.string()), warnings: z.array(z.string()) });

/** A refused validate or save: the message and, for an invalid config, every problem ("path: message"). */
export const Refusal = z.object({ error: z.object({ code: z.string(), message: z.string() }), problems: z.array(z.string()).optional() });

const ChangeFields = {
  id: z.number().int(),
  ts: z.number(),
  principal: z.string().nullable(),
  source: z.enum(["api", "sighup", "watch"]),
  old_hash: z.string(),
  new_hash: z.string(),
  diff: z.string(),
};

/** GET /api/config/history: newest first; `restorable` when the version's text was kept. */
export const HistoryAnswer = z.object({ changes: z.array(z.object({ ...ChangeFields, restorable: z.boolean() })) });
export type ConfigChangeSummary = z.infer<typeof HistoryAnswer>["changes"][number];

/** GET /api/config/history/:id: one change with the text it applied (null: not kept). */
export const HistoryEntryAnswer = z.object({ change: z.object({ ...ChangeFields, text: z.string().nullable() }) });

export const HistoryId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/** GET /api/policy/explain: who (a principal, or a repository whose mapped tags stand for its CI runner) and a model. */
export const ExplainQuery = z
  .strictObject({
    principal: z.string().trim().min(1).max(500).optional(),
    repository: z.string().trim().regex(/^[A-Za-z0-9][A-Za-z0-9-]*\/[A-Za-z0-9._-]+$/, 'expected "owner/repo"').optional(),
    model: z.string().trim().min(1).max(200),
  })
  .refine((q) => q.principal !== undefined || q.repository !== undefined, { message: "give a principal or a repository", path: ["principal"] });
export type ExplainQuery = z.infer<typeof ExplainQuery>;

export const ExplainAnswer = z.object({
  principal: z.string(),
  tags: z.array(z.string()),
  /** The github.repos mapping that gave the tags, when asked for a repository. */
  repository: z.object({ name: z.string(), pattern: z.string(), tags: z.array(z.string()) }).nullable(),
  model_key: z.string(),
  provider: z.string().nullable(),
  role: z.string().nullable(),
  allowed: z.boolean(),
  allowed_by: z.array(z.string()),
  grants: z.array(z.object({ origin: z.string(), src: z.array(z.string()), values: z.array(z.unknown()) })),
  buckets: z.array(z.object({ bucket: z.string(), quota: z.string(), capacity: z.string(), rate: z.string() })),
  undefined_quotas: z.array(z.string()),
  notes: z.array(z.string()),
});
export type ExplainAnswer = z.infer<typeof ExplainAnswer>;
