// OAuth access tokens for a Google service account (RFC 7523 JWT bearer grant, as google-auth-library does it),
// cached until shortly before they expire. Concurrent callers share one refresh.
import { type CryptoKey, SignJWT, importPKCS8 } from "jose";
import { ProviderAuthError } from "./types.js";

const SCOPE = "https://www.googleapis.com/auth/cloud-platform";
/** Refresh this long before expiry (google-auth-library's eagerRefreshThresholdMillis). */
const REFRESH_MARGIN_MS = 5 * 60_000;
const TOKEN_TIMEOUT_MS = 10_000;

export interface ServiceAccount {
  readonly client_email: string;
  readonly private_key: string;
  readonly private_key_id?: string;
}

export interface TokenSource {
  /** A valid access token, fetched or refreshed when needed. */
  token(): Promise<string>;
  /** The cached token, if any (for scrubbing). */
  current(): string | null;
}

export interface TokenSourceOptions {
  readonly tokenUrl: string;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

export function serviceAccountTokens(account: ServiceAccount, options: TokenSourceOptions): TokenSource {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  let key: Promise<CryptoKey> | null = null;
  let cached: { token: string; refreshAt: number } | null = null;
  let pending: Promise<string> | null = null;

  const assertion = async (): Promise<string> => {
    key ??= importPKCS8(account.private_key, "RS256").catch((err: unknown) => {
      key = null;
      throw new ProviderAuthError(`the service account's private_key could not be read (${(err as Error).message})`);
    });
    const iat = Math.floor(now() / 1000);
    return new SignJWT({ scope: SCOPE })
      .setProtectedHeader({ alg: "RS256", typ: "JWT", ...(account.private_key_id ? { kid: account.private_key_id } : {}) })
      .setIssuer(account.client_email)
      .setSubject(account.client_email)
      .setAudience(options.tokenUrl)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(await key);
  };

  const refresh = async (): Promise<string> => {
    const body = new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion: await assertion() });
    let res: Response;
    try {
      res = await doFetch(options.tokenUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body,
        signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new ProviderAuthError(`the Google token endpoint could not be reached (${cause})`);
    }
    const text = await res.text();
    let parsed: { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown } = {};
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      // Reported below by status.
    }
    if (!res.ok || typeof parsed.access_token !== "string") {
      const reason = [parsed.error, parsed.error_description].filter((v) => typeof v === "string").join(": ");
      throw new ProviderAuthError(`the Google token endpoint refused the service account (HTTP ${res.status}${reason ? `, ${reason}` : ""})`);
    }
    const lifetimeMs = (typeof parsed.expires_in === "number" ? parsed.expires_in : 3600) * 1000;
    // Short-lived tokens are refreshed at half their life rather than never being cached.
    cached = { token: parsed.access_token, refreshAt: now() + Math.max(lifetimeMs - REFRESH_MARGIN_MS, lifetimeMs / 2) };
    return parsed.access_token;
  };

  return {
    token() {
      if (cached && now() < cached.refreshAt) return Promise.resolve(cached.token);
      pending ??= refresh().finally(() => {
        pending = null;
      });
      return pending;
    },
    current: () => cached?.token ?? null,
  };
}
