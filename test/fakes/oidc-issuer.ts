// A fake GitHub Actions OIDC issuer on loopback: discovery, JWKS, RS256 tokens with the claim sets of real events, and
// the runner's token endpoint (`GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=X` with the request token → {"value": jwt}).
// Claim shapes follow GitHub's "Understanding the OIDC token" reference; values are made up.
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";

export type ActionsEvent = "pull_request" | "push" | "workflow_dispatch" | "issue_comment";

export type Claims = Record<string, string | number | string[]>;

export interface RepoInfo {
  readonly repository: string;
  readonly repository_id: string;
  readonly repository_owner_id: string;
}

export const DEFAULT_REPO: RepoInfo = { repository: "acme/api", repository_id: "812345678", repository_owner_id: "4567890" };

export const HEAD_SHA = "1111111111111111111111111111111111111111";
export const MERGE_SHA = "2222222222222222222222222222222222222222";
export const MAIN_SHA = "3333333333333333333333333333333333333333";

/** GitHub's claim set for one event (without iss/aud/exp/iat/nbf/jti, which `mint` adds). */
export function eventClaims(event: ActionsEvent, opts: { repo?: RepoInfo; pr?: number; branch?: string } = {}): Claims {
  const repo = opts.repo ?? DEFAULT_REPO;
  const [owner = ""] = repo.repository.split("/");
  const pr = opts.pr ?? 42;
  const branch = opts.branch ?? "main";
  const base: Claims = {
    actor: "octocat",
    actor_id: "583231",
    repository: repo.repository,
    repository_id: repo.repository_id,
    repository_owner: owner,
    repository_owner_id: repo.repository_owner_id,
    repository_visibility: "private",
    run_id: "9876543210",
    run_number: "57",
    run_attempt: "1",
    runner_environment: "github-hosted",
    workflow: "AI review",
    workflow_ref: `${repo.repository}/.github/workflows/ai.yml@refs/heads/${branch}`,
    workflow_sha: MAIN_SHA,
    job_workflow_ref: `${repo.repository}/.github/workflows/ai.yml@refs/heads/${branch}`,
    job_workflow_sha: MAIN_SHA,
    check_run_id: "31415926535",
    event_name: event,
    ref_type: "branch",
  };
  switch (event) {
    case "pull_request":
      return {
        ...base,
        sub: `repo:${repo.repository}:pull_request`,
        ref: `refs/pull/${pr}/merge`,
        sha: MERGE_SHA,
        head_ref: "feature/ai",
        base_ref: "main",
        workflow_ref: `${repo.repository}/.github/workflows/ai.yml@refs/pull/${pr}/merge`,
        job_workflow_ref: `${repo.repository}/.github/workflows/ai.yml@refs/pull/${pr}/merge`,
      };
    case "push":
      return { ...base, sub: `repo:${repo.repository}:ref:refs/heads/${branch}`, ref: `refs/heads/${branch}`, sha: HEAD_SHA, head_ref: "", base_ref: "" };
    case "workflow_dispatch":
      return { ...base, sub: `repo:${repo.repository}:ref:refs/heads/${branch}`, ref: `refs/heads/${branch}`, sha: HEAD_SHA, head_ref: "", base_ref: "" };
    case "issue_comment":
      // Runs on the default branch; the PR number is only in the (unsigned) event payload.
      return { ...base, sub: `repo:${repo.repository}:ref:refs/heads/main`, ref: "refs/heads/main", sha: MAIN_SHA, head_ref: "", base_ref: "" };
  }
}

export interface MintOptions {
  readonly audience?: string | string[];
  readonly issuer?: string;
  /** Seconds from iat to exp; GitHub's tokens live 300 s. */
  readonly expiresIn?: number;
  /** Seconds added to now for iat/nbf (GitHub back-dates nbf a little). */
  readonly issuedAtOffset?: number;
  readonly jti?: string;
  /** "foreign": sign with a key the issuer never published, under the published kid. "none": an unsecured JWT. */
  readonly signer?: "issuer" | "foreign" | "none";
  /** Extension header parameters marked critical (RFC 7515 §4.1.11), each set to true in the protected header. */
  readonly crit?: readonly string[];
}

export interface FakeOidcIssuer {
  /** The issuer URL (`iss`), also the base of discovery and JWKS. */
  readonly issuer: string;
  readonly jwksUrl: string;
  /** `ACTIONS_ID_TOKEN_REQUEST_URL` (already carries `?api-version=`). */
  readonly requestUrl: string;
  /** `ACTIONS_ID_TOKEN_REQUEST_TOKEN`. */
  readonly requestToken: string;
  /** Claims the token endpoint signs (event preset plus overrides); set by the test. */
  endpointClaims: Claims;
  /** How many times each path was fetched. */
  readonly hits: Map<string, number>;
  mint(claims: Claims, opts?: MintOptions): Promise<string>;
  close(): Promise<void>;
}

export async function startOidcIssuer(opts: { endpointClaims?: Claims } = {}): Promise<FakeOidcIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const foreign = await generateKeyPair("RS256");
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  const requestToken = `fake-request-token-${randomUUID()}`;
  const hits = new Map<string, number>();

  const app = new Hono();
  app.use(async (c, next) => {
    hits.set(c.req.path, (hits.get(c.req.path) ?? 0) + 1);
    await next();
  });
  app.get("/.well-known/openid-configuration", (c) =>
    c.json({
      issuer: self.issuer,
      jwks_uri: self.jwksUrl,
      subject_types_supported: ["public", "pairwise"],
      response_types_supported: ["id_token"],
      claims_supported: ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "repository", "repository_id", "run_id"],
      id_token_signing_alg_values_supported: ["RS256"],
      scopes_supported: ["openid"],
    }),
  );
  app.get("/.well-known/jwks", (c) => c.json({ keys: [jwk] }));
  app.get("/_apis/distributedtask/token", async (c) => {
    if (c.req.header("authorization") !== `Bearer ${requestToken}`) return c.json({ message: "bad request token" }, 401);
    if (!c.req.query("api-version")) return c.json({ message: "api-version is required" }, 400);
    const audience = c.req.query("audience");
    return c.json({ value: await mint(self.endpointClaims, audience ? { audience } : {}) });
  });

  async function mint(claims: Claims, o: MintOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000) + (o.issuedAtOffset ?? 0);
    const payload = {
      jti: o.jti ?? randomUUID(),
      nbf: now - 5,
      iat: now,
      exp: now + (o.expiresIn ?? 300),
      iss: o.issuer ?? self.issuer,
      aud: o.audience ?? `https://github.com/${String(claims.repository_owner ?? "octo-org")}`,
      ...claims,
    };
    if (o.signer === "none") {
      const part = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");
      return `${part({ alg: "none", typ: "JWT" })}.${part(payload)}.`;
    }
    const key: CryptoKey = o.signer === "foreign" ? foreign.privateKey : privateKey;
    const crit = o.crit ?? [];
    const extensions = Object.fromEntries(crit.map((name) => [name, true]));
    return new SignJWT(payload)
      .setProtectedHeader({ alg: "RS256", typ: "JWT", kid, x5t: "fake-x5t", ...(crit.length > 0 ? { crit: [...crit], ...extensions } : {}) })
      .sign(key, crit.length > 0 ? { crit: extensions } : undefined);
  }

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  const self: FakeOidcIssuer = {
    issuer: base,
    jwksUrl: `${base}/.well-known/jwks`,
    requestUrl: `${base}/_apis/distributedtask/token?api-version=2.0`,
    requestToken,
    endpointClaims: opts.endpointClaims ?? eventClaims("pull_request"),
    hits,
    mint,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
  return self;
}
