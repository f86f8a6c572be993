// The `github` config section: OIDC verification, the repository → tailnet tag mapping, and the GitHub App for check runs.
import { z } from "zod";
import { DEFAULT_OIDC_AUDIENCE } from "../../src/ci-session.js";
import { Duration } from "./units.js";

export const DEFAULT_OIDC_ISSUER = "https://token.actions.githubusercontent.com";

const NumericId = z
  .union([z.string().regex(/^\d+$/, "expected a numeric GitHub id"), z.number().int().positive()])
  .transform(String);

/** `owner/repo` or `owner/*`. GitHub names are case-insensitive; matching lower-cases both sides. */
const REPO_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]*\/(\*|[A-Za-z0-9._-]+)$/;

export const RepoMapping = z.strictObject({
  /** Tags the caller's node must all carry. `<owner>`, `<repo>`, `<repository>` expand per repository (src/tags.ts). */
  tags: z.array(z.string().startsWith("tag:", 'tags start with "tag:"')).min(1, "list at least one tag"),
  /** Pins an exact mapping to GitHub's repository id: it survives renames and refuses a deleted-and-recreated repo. */
  repository_id: NumericId.optional(),
  /** Pins the owner's id (for `owner/*` patterns: guards against a deleted-and-recreated account). */
  owner_id: NumericId.optional(),
  /**
   * Runners that cannot join the tailnet may get a session token over HTTPS, bound to one job, used as their API key.
   * Weaker than tailnet identity (a bearer secret on the runner); off unless enabled here.
   */
  session_tokens: z.boolean().default(false),
});
export type RepoMapping = z.infer<typeof RepoMapping>;

const Conclusion = z.enum(["neutral", "failure", "action_required"]);

export const OidcConfig = z.strictObject({
  /** GHES: https://HOST/_services/token; GHE.com: https://token.actions.SUBDOMAIN.ghe.com. */
  issuer: z.url().transform((u) => u.replace(/\/+$/, "")).default(DEFAULT_OIDC_ISSUER),
  /** Defaults to <issuer>/.well-known/jwks. */
  jwks_url: z.url().optional(),
  /** The audience the Action requests. Never accept GitHub's default (the owner URL): any workflow can mint that. */
  audience: z.string().min(1).default(DEFAULT_OIDC_AUDIENCE),
  clock_tolerance: Duration.default(30_000),
});

export const GitHubAppConfig = z.strictObject({
  id: NumericId,
  /** PEM. A literal "\n" (as env files carry it) is turned into a newline. */
  private_key: z
    .string()
    .transform((k) => k.replaceAll("\\n", "\n"))
    .refine((k) => k.includes("-----BEGIN"), "expected a PEM private key"),
});

export const ChecksConfig = z.strictObject({
  name: z.string().min(1).max(100).default("AI usage"),
  /** A running session's check run is updated at most this often. */
  update_interval: Duration.default(30_000),
  /** A session without requests for this long (the job died without finishing) is completed by the gateway. */
  idle_timeout: Duration.default(3_600_000),
  /** Conclusion when a guardrail blocked a call or a high-severity finding occurred; otherwise always neutral. */
  conclusion_when_flagged: Conclusion.default("neutral"),
});

export const GitHubConfig = z.strictObject({
  oidc: OidcConfig.default({ issuer: DEFAULT_OIDC_ISSUER, audience: DEFAULT_OIDC_AUDIENCE, clock_tolerance: 30_000 }),
  /** REST base URL; GHES: https://HOST/api/v3. */
  api_url: z.url().transform((u) => u.replace(/\/+$/, "")).default("https://api.github.com"),
  /** The GitHub App that writes check runs and verifies PRs. Without it: no check runs, PR numbers only from `ref`. */
  app: GitHubAppConfig.optional(),
  checks: ChecksConfig.default({
    name: "AI usage",
    update_interval: 30_000,
    idle_timeout: 3_600_000,
    conclusion_when_flagged: "neutral",
  }),
  /** Public base URL of the gateway, for the check run's details_url (e.g. https://ai.tail1234.ts.net). */
  public_url: z.url().transform((u) => u.replace(/\/+$/, "")).optional(),
  /** Repository → tags the caller's node must carry. Exact names win over `owner/*`. */
  repos: z
    .record(z.string(), RepoMapping)
    // Checked here rather than as a record key schema so the message names the key.
    .superRefine((repos, ctx) => {
      for (const key of Object.keys(repos)) {
        if (!REPO_PATTERN.test(key)) ctx.addIssue({ code: "custom", path: [key], message: 'expected "owner/repo" or "owner/*"' });
      }
    })
    .default({}),
  /** Longest a session token (session_tokens) stays valid when the job never finishes. */
  session_token_ttl: Duration.default(6 * 3_600_000),
});
export type GitHubConfig = z.infer<typeof GitHubConfig>;
export type GitHubConfigInput = z.input<typeof GitHubConfig>;
