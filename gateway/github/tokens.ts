// Session tokens for runners that cannot join the tailnet: a bearer secret bound to one CI session, presented where
// agents put their API key. Weaker than tailnet identity (anyone holding it is the job), so off unless a repository
// mapping enables it; stored only as a hash and dead once the session finishes or its lifetime ends.
import { createHash, randomBytes } from "node:crypto";

export const TOKEN_PREFIX = "kls_";

export function newSessionToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** The session token in a request, wherever the agent's SDK puts its key (Anthropic, OpenAI, Gemini, query `key`). */
export function tokenFromRequest(headers: Headers, url: string): string | null {
  const bearer = /^Bearer\s+(\S+)$/i.exec(headers.get("authorization") ?? "")?.[1];
  const candidates = [headers.get("x-api-key"), bearer, headers.get("x-goog-api-key"), new URL(url).searchParams.get("key")];
  return candidates.find((c): c is string => typeof c === "string" && c.startsWith(TOKEN_PREFIX)) ?? null;
}
