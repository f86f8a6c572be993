// Verifies GitHub Actions OIDC tokens: RS256 signature against the issuer's JWKS, issuer, audience, expiry, single use.
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { z } from "zod";

/** The claims keyless reads. GitHub sends every custom claim as a string, ids included. */
export const ActionsClaims = z.object({
  iss: z.string(),
  jti: z.string().min(1),
  exp: z.number(),
  repository: z.string().regex(/^[^/\s]+\/[^/\s]+$/),
  repository_id: z.string().regex(/^\d+$/),
  repository_owner: z.string().min(1),
  repository_owner_id: z.string().regex(/^\d+$/),
  run_id: z.string().min(1),
  run_attempt: z.string().min(1),
  workflow: z.string(),
  actor: z.string(),
  event_name: z.string().min(1),
  ref: z.string(),
  sha: z.string().regex(/^[0-9a-f]{40}$/),
  head_ref: z.string().optional(),
  base_ref: z.string().optional(),
  job_workflow_ref: z.string().optional(),
  check_run_id: z.string().optional(),
});
export type ActionsClaims = z.infer<typeof ActionsClaims>;

/** Remembers token ids until they expire. `claim` returns false when the id was seen before. */
export interface JtiLedger {
  claim(jti: string, expiresAtMs: number): Promise<boolean>;
}

export interface OidcVerifierOptions {
  readonly issuer: string;
  readonly audience: string;
  /** Defaults to `<issuer>/.well-known/jwks`. */
  readonly jwksUrl?: string;
  readonly clockToleranceMs: number;
  readonly ledger: JtiLedger;
  readonly now?: () => number;
}

export type OidcResult =
  | { readonly ok: true; readonly claims: ActionsClaims }
  | { readonly ok: false; readonly code: string; readonly message: string };

export type OidcVerifier = (token: string) => Promise<OidcResult>;

const fail = (code: string, message: string): OidcResult => ({ ok: false, code, message });

export function createOidcVerifier(opts: OidcVerifierOptions): OidcVerifier {
  const jwksUrl = new URL(opts.jwksUrl ?? `${opts.issuer}/.well-known/jwks`);
  // jose caches the key set (10 min) and refetches at most every 30 s on an unknown kid.
  const keys: JWTVerifyGetKey = createRemoteJWKSet(jwksUrl);
  const now = opts.now ?? Date.now;

  return async function verify(token: string): Promise<OidcResult> {
    // Unverified peeks only ever refuse, so the messages can name the exact problem before any key fetch.
    let alg: unknown;
    let iss: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch {
      return fail("oidc_malformed", "oidc_token is not a JWT (expected three base64url parts with JSON header and claims)");
    }
    if (alg !== "RS256") return fail("oidc_algorithm", `oidc_token uses algorithm "${String(alg)}"; only RS256 is accepted`);
    if (iss !== opts.issuer) return fail("oidc_issuer", `oidc_token issuer "${String(iss)}" is not the configured issuer "${opts.issuer}"`);

    let payload: unknown;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: opts.issuer,
        audience: opts.audience,
        algorithms: ["RS256"],
        clockTolerance: Math.round(opts.clockToleranceMs / 1000),
        currentDate: new Date(now()),
        requiredClaims: ["exp", "iat", "jti"],
      }));
    } catch (err) {
      return explain(err, opts, jwksUrl);
    }

    const parsed = ActionsClaims.safeParse(payload);
    if (!parsed.success) {
      const fields = [...new Set(parsed.error.issues.map((i) => i.path.join(".")))].join(", ");
      return fail("oidc_claims", `oidc_token lacks GitHub Actions claims or has malformed ones: ${fields}`);
    }
    // Single use: keep the id until its expiry (plus leeway), after which the token is refused anyway.
    if (!(await opts.ledger.claim(parsed.data.jti, parsed.data.exp * 1000 + opts.clockToleranceMs))) {
      return fail("oidc_replay", `oidc_token was already used (jti ${parsed.data.jti}); request a fresh token`);
    }
    return { ok: true, claims: parsed.data };
  };
}

function explain(err: unknown, opts: OidcVerifierOptions, jwksUrl: URL): OidcResult {
  if (err instanceof errors.JWTExpired) return fail("oidc_expired", "oidc_token has expired; request a fresh token");
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case "aud":
        return fail("oidc_audience", `oidc_token audience is not "${opts.audience}"; request the token with that audience`);
      case "iss":
        return fail("oidc_issuer", `oidc_token issuer is not the configured issuer "${opts.issuer}"`);
      case "nbf":
      case "iat":
        return fail("oidc_not_yet_valid", `oidc_token is not valid yet (${err.claim} is in the future)`);
      default:
        return fail("oidc_claims", `oidc_token claim "${err.claim}" is invalid: ${err.reason}`);
    }
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    return fail("oidc_signature", `oidc_token key id is not among the issuer's keys (${jwksUrl.href})`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return fail("oidc_signature", "oidc_token signature does not verify against the issuer's keys");
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return fail("oidc_algorithm", "oidc_token algorithm is not RS256");
  // An unknown critical header ("crit") and the like: the token is refused, the issuer is not at fault.
  if (err instanceof errors.JOSENotSupported) return fail("oidc_unsupported", `oidc_token uses a JOSE feature keyless does not accept: ${err.message}`);
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) {
    return fail("oidc_jwks_unavailable", `could not load the issuer's keys from ${jwksUrl.href}: ${err.message}`);
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    return fail("oidc_malformed", `oidc_token is malformed: ${err.message}`);
  }
  return fail("oidc_jwks_unavailable", `could not verify oidc_token against ${jwksUrl.href}: ${String(err)}`);
}
