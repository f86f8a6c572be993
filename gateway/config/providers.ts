// Provider sections of the config: one entry per upstream, keyed by the name grants use (`<name>/<model>`).
import { z } from "zod";
import { AwsCredentials, GoogleCredentials } from "./cloud-credentials.js";

const BaseUrl = z
  .url({ protocol: /^https?$/, error: "expected URL" })
  .transform((u) => u.replace(/\/+$/, ""))
  .refine((u) => !/\/v1(beta)?$/.test(u), { message: "baseurl must not end in /v1 (keyless appends the API path)" });

/** Model globs this provider serves, matched against the model a request names. */
const Models = z.array(z.string().min(1)).min(1, "list at least one model glob (\"*\" for all)");

const HeaderLines = z.array(z.string().regex(/^[A-Za-z0-9-]+:\s?.*$/, "expected \"Name: value\"")).default([]);

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

const KeyedProvider = {
  baseurl: BaseUrl,
  /** The provider key. Empty (and no `keys`) means "not configured": requests are refused with a clear message. */
  apikey: z.string().default(""),
  /** Several keys with weights; one that answers 429 or 401 rests while the others carry the load (docs/routing.md). */
  keys: Keys,
  models: Models,
  /** Extra upstream headers, "Name: value". */
  headers: HeaderLines,
};

export const AnthropicProvider = z.strictObject({ type: z.literal("anthropic"), ...KeyedProvider });
export const OpenAIProvider = z.strictObject({ type: z.literal("openai"), ...KeyedProvider });
export const GeminiProvider = z.strictObject({ type: z.literal("gemini"), ...KeyedProvider });

const CloudRegion = z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "expected a region such as us-east-1, us-east5 or global");

/** Claude and Gemini on Vertex AI. The gateway mints OAuth tokens from a service account, or uses an express-mode key. */
export const VertexProvider = z.strictObject({
  type: z.literal("vertex"),
  project: z.string().regex(/^[a-z0-9][a-z0-9.:-]*$/, "expected a Google Cloud project id"),
  region: CloudRegion,
  credentials: GoogleCredentials,
  /** OAuth token endpoint the service-account assertion is exchanged at. */
  token_url: z.url({ protocol: /^https?$/ }).default("https://oauth2.googleapis.com/token"),
  /** Default: https://{region}-aiplatform.googleapis.com (global, us and eu have their own hosts). */
  baseurl: BaseUrl.optional(),
  models: Models,
  headers: HeaderLines,
});

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
});

export const ProviderConfig = z.discriminatedUnion("type", [AnthropicProvider, OpenAIProvider, GeminiProvider, VertexProvider, BedrockProvider]);
export type ProviderConfig = z.infer<typeof ProviderConfig>;
export type ProviderType = ProviderConfig["type"];

export const ProviderName = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "provider names are lower-case letters, digits, - and _");
