// Provider sections of the config: one entry per upstream, keyed by the name grants use (`<name>/<model>`).
import { z } from "zod";

const BaseUrl = z
  .url({ protocol: /^https?$/, error: "expected URL" })
  .transform((u) => u.replace(/\/+$/, ""))
  .refine((u) => !/\/v1(beta)?$/.test(u), { message: "baseurl must not end in /v1 (keyless appends the API path)" });

/** Model globs this provider serves, matched against the model a request names. */
const Models = z.array(z.string().min(1)).min(1, "list at least one model glob (\"*\" for all)");

const KeyedProvider = {
  baseurl: BaseUrl,
  /** The provider key. Empty means "not configured": requests are refused with a clear message. */
  apikey: z.string(),
  models: Models,
  /** Extra upstream headers, "Name: value". */
  headers: z.array(z.string().regex(/^[A-Za-z0-9-]+:\s?.*$/, "expected \"Name: value\"")).default([]),
};

export const AnthropicProvider = z.strictObject({ type: z.literal("anthropic"), ...KeyedProvider });
export const OpenAIProvider = z.strictObject({ type: z.literal("openai"), ...KeyedProvider });
export const GeminiProvider = z.strictObject({ type: z.literal("gemini"), ...KeyedProvider });

export const ProviderConfig = z.discriminatedUnion("type", [AnthropicProvider, OpenAIProvider, GeminiProvider]);
export type ProviderConfig = z.infer<typeof ProviderConfig>;
export type ProviderType = ProviderConfig["type"];

export const ProviderName = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, "provider names are lower-case letters, digits, - and _");
