// Cloud credentials the gateway holds for Vertex AI and Bedrock, normalized at config load so a bad file or a
// malformed service account fails the config, not the first request. Messages never echo a credential.
import { readFileSync } from "node:fs";
import { z } from "zod";

const ServiceAccountJson = z.looseObject({
  type: z.literal("service_account", { error: 'expected "type": "service_account"' }),
  client_email: z.string().min(1),
  private_key: z.string().includes("PRIVATE KEY", { error: "private_key is not a PEM private key" }),
  private_key_id: z.string().optional(),
});

export type GoogleCredentials =
  | { readonly kind: "service_account"; readonly client_email: string; readonly private_key: string; readonly private_key_id?: string }
  | { readonly kind: "api_key"; readonly api_key: string }
  | { readonly kind: "none" };

function serviceAccount(text: string, where: string, ctx: z.RefinementCtx): GoogleCredentials {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    ctx.addIssue({ code: "custom", message: `${where} is not valid JSON` });
    return z.NEVER;
  }
  const parsed = ServiceAccountJson.safeParse(raw);
  if (!parsed.success) {
    ctx.addIssue({ code: "custom", message: `${where} is not a service-account key: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}` });
    return z.NEVER;
  }
  const { client_email, private_key, private_key_id } = parsed.data;
  return { kind: "service_account", client_email, private_key, ...(private_key_id ? { private_key_id } : {}) };
}

const KEYFILE = "keyfile::";

/**
 * Aperture's way to hold a service-account key in `apikey`: "keyfile::" and the key file, base64-encoded (its Vertex
 * guide) or as JSON. The key file's text, or null when the value is not one.
 */
export function decodeKeyFile(value: string): string | null {
  if (!value.startsWith(KEYFILE)) return null;
  const rest = value.slice(KEYFILE.length).trim();
  return rest.startsWith("{") ? rest : Buffer.from(rest, "base64").toString("utf8");
}

/**
 * A service-account key as JSON text (usually `${ENV}`), as Aperture's "keyfile::<base64>", or as a file path;
 * `{"api_key": …}` for Vertex express mode. An empty string means "not configured" (requests are refused with a clear
 * message).
 */
export const GoogleCredentials = z.union([z.string(), z.strictObject({ api_key: z.string() })]).transform((value, ctx): GoogleCredentials => {
  if (typeof value !== "string") return value.api_key === "" ? { kind: "none" } : { kind: "api_key", api_key: value.api_key };
  const text = value.trim();
  if (text === "") return { kind: "none" };
  if (text.startsWith("{")) return serviceAccount(text, "credentials", ctx);
  const keyFile = decodeKeyFile(text);
  if (keyFile !== null) return serviceAccount(keyFile, "credentials (keyfile::)", ctx);
  let file: string;
  try {
    file = readFileSync(text, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    ctx.addIssue({
      code: "custom",
      message: `credentials: not service-account JSON, and no readable file by that name (${code}); an express-mode API key goes in {"api_key": …}`,
    });
    return z.NEVER;
  }
  return serviceAccount(file, "credentials file", ctx);
});

export type AwsCredentials =
  | { readonly kind: "static"; readonly access_key_id: string; readonly secret_access_key: string; readonly session_token?: string }
  | { readonly kind: "api_key"; readonly api_key: string }
  | { readonly kind: "chain" };

/**
 * `{access_key_id, secret_access_key, session_token?}` (static keys, usually `${ENV}`), `{api_key}` (a Bedrock API key,
 * sent as a bearer token), or "chain": the standard AWS credential chain (environment, shared config and SSO, web
 * identity, container and instance roles), refreshed as the credentials expire.
 */
export const AwsCredentials = z
  .union([
    z.literal("chain"),
    z.strictObject({ access_key_id: z.string(), secret_access_key: z.string(), session_token: z.string().optional() }),
    z.strictObject({ api_key: z.string() }),
  ])
  .transform((value): AwsCredentials => {
    if (value === "chain") return { kind: "chain" };
    if ("api_key" in value) return { kind: "api_key", api_key: value.api_key };
    const { access_key_id, secret_access_key, session_token } = value;
    return { kind: "static", access_key_id, secret_access_key, ...(session_token ? { session_token } : {}) };
  });
