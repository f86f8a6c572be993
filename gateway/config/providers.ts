// Provider sections of the config: one entry per upstream, keyed by the name grants use (`<name>/<model>`).
import { z } from "zod";
import { AwsCredentials, GoogleCredentials, decodeKeyFile } from "./cloud-credentials.js";

/** A trailing "/v1" (Aperture's self-hosted guide writes one) is the API version keyless appends itself: dropped. */
export const API_VERSION_SUFFIX = /\/v1(beta)?\/*$/;

const BaseUrl = z
  .url({ protocol: /^https?$/, error: "expected URL" })
  .transform((u) => u.replace(/\/+$/, "").replace(API_VERSION_SUFFIX, ""));

/** Model globs this provider serves, matched against the model a request names. */
const Models = z.array(z.string().min(1)).min(1, "list at least one model glob (\"*\" for all)");

const HeaderLines = z.array(z.string().regex(/^[A-Za-z0-9-]+:\s?.*$/, "expected \"Name: value\"")).default([]);

/** How the key travels upstream (Aperture's `authorization`); default: the provider type's own header. */
export const KEY_HEADERS = ["bearer", "x-api-key", "x-goog-api-key"] as const;
export type KeyHeader = (typeof KEY_HEADERS)[number];

/**
 * Aperture's `auth_mode`: "" and "override" inject the configured key; "passthrough" forwards the caller's own
 * credential (a Claude or ChatGPT subscription, a personal key) and uses the configured key only when the caller sends
 * none; "none" sends no credential (self-hosted servers).
 */
export const AuthMode = z
  .enum(["", "override", "passthrough", "none"])
  .default("")
  .transform((m) => (m === "" || m === "override" ? ("inject" as const) : m));
export type AuthMode = z.output<typeof AuthMode>;

/** One of several keys for a provider: the name is what /api and /metrics show, never the key. */
export const ProviderKey = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "key names are lower-case letters, digits, - and _"),
  apikey: z.string(),
  /** Share of the traffic while every key is available (weights are relative). */
  weight: z.number().int().min(1).max(1000).default(1),
});
export type ProviderKey = z.infer<typeof ProviderKey>;

const Keys = z
  .array(ProviderKey)
  .max(32)
  .default([])
  .refine((keys) => new Set(keys.map((k) => k.name)).size === keys.length, "key names must be unique");

/**
 * Aperture's cost bases (provider-compatibility) and the price table (@pydantic/genai-prices provider id) each prices
 * from; null: keyless has no such table, so the provider type's own is used (the load warns).
 */
export const COST_BASES = {
  anthropic: "anthropic",
  openai: "openai",
  google: "google",
  vertex: "google",
  bedrock: "aws",
  "bedrock-us": "aws",
  "bedrock-eu": "aws",
  "bedrock-ap": "aws",
  azure: "azure",
  "azure-eu": "azure",
  openrouter: "openrouter",
  vercel: null,
} as const satisfies Record<string, string | null>;
export type CostBasis = keyof typeof COST_BASES;

/** Fields of Aperture's provider entries that every type takes. */
const ApertureFields = {
  /** Aperture's API-format flags: they pick the type when `type` is absent; keyless serves every API of the type. */
  compatibility: z.record(z.string(), z.boolean()).optional(),
  /** Aperture's price-table prefix: which table prices this provider's models (`prices` still overrides). */
  cost_basis: z.enum(Object.keys(COST_BASES) as [CostBasis, ...CostBasis[]]).optional(),
  /** Aperture's display name for the provider; keyless shows the config key. */
  name: z.string().optional(),
};

const KeyedProvider = {
  baseurl: BaseUrl,
  /** The provider key. Empty means "not configured": requests are refused with a clear message (unless passthrough). */
  apikey: z.string().default(""),
  /** Several keys with weights; one that answers 429 or 401 rests while the others carry the load (docs/routing.md). */
  keys: Keys,
  models: Models,
  /** Extra upstream headers, "Name: value". */
  headers: HeaderLines,
  authorization: z.enum(KEY_HEADERS).optional(),
  auth_mode: AuthMode,
  ...ApertureFields,
};

export const AnthropicProvider = z.strictObject({ type: z.literal("anthropic"), ...KeyedProvider });
export const OpenAIProvider = z.strictObject({ type: z.literal("openai"), ...KeyedProvider });
export const GeminiProvider = z.strictObject({ type: z.literal("gemini"), ...KeyedProvider });

const CloudRegion = z.string({ error: (issue) => (issue.input === undefined ? "required: the region (us-east-1, us-east5, global…) when the base URL does not name it" : "expected a string") }).regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "expected a region such as us-east-1, us-east5 or global");

/** Claude and Gemini on Vertex AI. The gateway mints OAuth tokens from a service account, or uses an express-mode key. */
export const VertexProvider = z
  .strictObject({
    type: z.literal("vertex"),
    /** The project every call is billed to; express mode addresses models without one. */
    project: z.string().regex(/^[a-z0-9][a-z0-9.:-]*$/, "expected a Google Cloud project id").optional(),
    region: CloudRegion,
    credentials: GoogleCredentials,
    /** OAuth token endpoint the service-account assertion is exchanged at. */
    token_url: z.url({ protocol: /^https?$/ }).default("https://oauth2.googleapis.com/token"),
    /** Default: https://{region}-aiplatform.googleapis.com (global, us and eu have their own hosts). */
    baseurl: BaseUrl.optional(),
    models: Models,
    headers: HeaderLines,
    ...ApertureFields,
  })
  .refine((v) => v.project !== undefined || v.credentials.kind !== "service_account", { path: ["project"], message: "a service account calls one project: name it (project)" });

/** Claude (and other models) on Amazon Bedrock. The gateway signs every call with SigV4, or sends a Bedrock API key. */
export const BedrockProvider = z.strictObject({
  type: z.literal("bedrock"),
  region: CloudRegion,
  credentials: AwsCredentials.prefault("chain"),
  /** Runtime endpoint (InvokeModel, Converse). Default: https://bedrock-runtime.{region}.amazonaws.com */
  baseurl: BaseUrl.optional(),
  /** Control-plane endpoint (inference profiles). Default: https://bedrock.{region}.amazonaws.com */
  control_baseurl: BaseUrl.optional(),
  models: Models,
  headers: HeaderLines,
  ...ApertureFields,
});

const ProviderUnion = z.discriminatedUnion("type", [AnthropicProvider, OpenAIProvider, GeminiProvider, VertexProvider, BedrockProvider]);
export type ProviderConfig = z.infer<typeof ProviderUnion>;
export type ProviderType = ProviderConfig["type"];

/** Aperture's compatibility flags and the keyless type each means, in the order they decide. */
const TYPE_BY_COMPATIBILITY: readonly (readonly [string, ProviderType])[] = [
  ["anthropic_messages", "anthropic"],
  ["gemini_generate_content", "gemini"],
  ["google_generate_content", "vertex"],
  ["google_raw_predict", "vertex"],
  ["bedrock_model_invoke", "bedrock"],
  ["bedrock_converse", "bedrock"],
  ["openai_chat", "openai"],
  ["openai_responses", "openai"],
];
const TYPE_BY_AUTHORIZATION: Readonly<Record<string, ProviderType>> = { "x-api-key": "anthropic", "x-goog-api-key": "gemini", bearer: "openai" };

/**
 * The type of a provider entry written without one (Aperture's entries have none): from its compatibility flags, else
 * its authorization header, else "openai" (Aperture's default flag is openai_chat). Null when `type` is present.
 */
export function inferProviderType(raw: unknown): { readonly type: ProviderType; readonly because: string } | null {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw) || "type" in raw) return null;
  const entry = raw as Record<string, unknown>;
  const compatibility = typeof entry.compatibility === "object" && entry.compatibility !== null ? (entry.compatibility as Record<string, unknown>) : {};
  const flag = TYPE_BY_COMPATIBILITY.find(([name]) => compatibility[name] === true);
  if (flag) return { type: flag[1], because: `compatibility.${flag[0]}` };
  const byHeader = typeof entry.authorization === "string" ? TYPE_BY_AUTHORIZATION[entry.authorization] : undefined;
  if (byHeader) return { type: byHeader, because: `authorization "${String(entry.authorization)}"` };
  return { type: "openai", because: "Aperture's default (openai_chat)" };
}

type Json = Record<string, unknown>;

/** A field an Aperture entry sets that keyless reads under another name, and how. */
export interface FieldChange {
  readonly field: string;
  readonly message: string;
}

const VERTEX_HOST = /^https?:\/\/(?:([a-z0-9]+(?:-[a-z0-9]+)*)-aiplatform|aiplatform(?:\.(us|eu)\.rep)?)\.googleapis\.com(?:[/:]|$)/;
const BEDROCK_HOST = /^https?:\/\/bedrock-runtime(?:-fips)?\.([a-z0-9]+(?:-[a-z0-9]+)*)\.amazonaws\.com(?:[/:]|$)/;

function keyFileFields(apikey: string): Json {
  const text = decodeKeyFile(apikey);
  if (text === null) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? (parsed as Json) : {};
  } catch {
    return {}; // GoogleCredentials reports the bad key file.
  }
}

/**
 * An Aperture Vertex or Bedrock entry (how-to/use-vertex-ai, use-vertex-ai-express, use-amazon-bedrock) in keyless's
 * fields. Aperture keeps the credential in `apikey` (a service account as "keyfile::…", an express-mode key, a Bedrock
 * API key it sends as a bearer token) and takes the region from the base URL; keyless names both, and calls the key
 * file's project (Aperture forwards the client's project and location; keyless never lets the client pick them).
 */
export function fromApertureCloud(type: "vertex" | "bedrock", entry: Json): { readonly entry: Json; readonly changes: readonly FieldChange[] } {
  const { apikey, authorization, ...out } = entry;
  const key = typeof apikey === "string" ? apikey : "";
  const baseurl = typeof entry.baseurl === "string" ? entry.baseurl : "";
  const changes: FieldChange[] = [];
  const set = (field: string, value: unknown, message: string) => {
    if (out[field] !== undefined || value === undefined) return;
    out[field] = value;
    changes.push({ field, message });
  };
  if (type === "bedrock") {
    set("credentials", { api_key: key }, "was apikey: a Bedrock API key, sent as a bearer token (authorization is always bearer)");
    const region = BEDROCK_HOST.exec(baseurl)?.[1];
    set("region", region, "taken from the base URL");
    return { entry: out, changes };
  }
  const file = keyFileFields(key);
  // A bearer entry holds a key file; a plain key with "bearer" is read as one too, so the load says it is not.
  if (decodeKeyFile(key) === null && authorization !== "bearer") set("credentials", { api_key: key }, "was apikey: an express-mode key, sent in x-goog-api-key");
  else set("credentials", key, "was apikey: the service account's key file (keyless mints the OAuth tokens)");
  set("project", typeof file.project_id === "string" ? file.project_id : undefined, "the key file's project_id: keyless calls the configured project, never the client's");
  set("token_url", typeof file.token_uri === "string" ? file.token_uri : undefined, "the key file's token_uri");
  const host = VERTEX_HOST.exec(baseurl);
  set("region", host?.[1] ?? host?.[2] ?? "global", host?.[1] || host?.[2] ? "taken from the base URL" : "Aperture's base URL is the global endpoint: keyless calls location global");
  return { entry: out, changes };
}

export const ProviderConfig = z.preprocess((raw) => {
  const inferred = inferProviderType(raw);
  if (!inferred) return raw;
  const entry = raw as Json;
  if (inferred.type === "vertex" || inferred.type === "bedrock") return { ...fromApertureCloud(inferred.type, entry).entry, type: inferred.type };
  return { ...entry, type: inferred.type };
}, ProviderUnion);

export const ProviderName = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "provider names are lower-case letters, digits, - and _");
