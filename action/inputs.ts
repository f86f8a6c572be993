// Every input of action.yml, parsed once with zod. Defaults repeat action.yml's so a direct `node dist/main.js` agrees.
import { z } from "zod";
import { DEFAULT_OIDC_AUDIENCE } from "../src/ci-session.js";
import { DEFAULT_TAG_TEMPLATE } from "../src/tags.js";
import { ActionError } from "./errors.js";

export const AGENTS = ["claude", "codex", "gemini", "openai"] as const;
export type Agent = (typeof AGENTS)[number];

export const DEFAULT_TAILSCALE_VERSION = "1.94.2";
/** tailscale/github-action's default for `timeout`. */
const DEFAULT_TIMEOUT = "2m";

const list = (raw: string): string[] =>
  raw
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

/** The spellings @actions/core's getBooleanInput accepts; empty is the default. */
const bool = (fallback: boolean) =>
  z
    .string()
    .transform((s) => s.trim())
    .pipe(z.enum(["", "true", "True", "TRUE", "false", "False", "FALSE"], { error: "must be true or false" }))
    .transform((s) => (s === "" ? fallback : s.toLowerCase() === "true"));

const httpUrl = z
  .string()
  .trim()
  .min(1, { error: "is required" })
  .transform((s, ctx) => {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      ctx.addIssue({ code: "custom", message: `must be a URL such as http://ai-gateway (got "${s}")` });
      return z.NEVER;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      ctx.addIssue({ code: "custom", message: `must use http or https (got "${url.protocol}")` });
      return z.NEVER;
    }
    if (url.search || url.hash || url.username || url.password) {
      ctx.addIssue({ code: "custom", message: "must not contain credentials, a query or a fragment" });
      return z.NEVER;
    }
    return url.href.replace(/\/+$/, "");
  });

const oneOf = <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
  z
    .string()
    .trim()
    .transform((s) => s || fallback)
    .pipe(z.enum(values, { error: `must be one of ${values.join(", ")}` }));

const agents = z
  .string()
  .transform((s, ctx) => {
    const names = list(s.toLowerCase());
    if (names.length === 0 || names.includes("all")) return [...AGENTS];
    if (names.includes("none")) return [];
    for (const n of names) {
      if (!(AGENTS as readonly string[]).includes(n)) {
        ctx.addIssue({ code: "custom", message: `unknown agent "${n}"; use all, none or a list of ${AGENTS.join(", ")}` });
        return z.NEVER;
      }
    }
    return [...new Set(names)] as Agent[];
  });

/** A duration as tailscale/github-action writes it: `90`, `90s`, `2m`, `1h` (no unit: seconds). */
const duration = z
  .string()
  .trim()
  .transform((s) => s || DEFAULT_TIMEOUT)
  .pipe(z.string().regex(/^\d+[smh]?$/, { error: "must be a duration such as 120, 90s or 2m" }))
  .transform((s) => Number.parseInt(s, 10) * ({ s: 1, m: 60, h: 3600 }[s.at(-1)!] ?? 1))
  .pipe(z.number().min(1, { error: "must be at least 1s" }).max(3600, { error: "must be at most 1h" }))
  .transform((s) => s * 1000);

const whole = (fallback: number, min: number, max: number) =>
  z
    .string()
    .trim()
    .transform((s) => s || String(fallback))
    .pipe(z.string().regex(/^\d+$/, { error: "must be a whole number" }))
    .transform(Number)
    .pipe(z.number().min(min, { error: `must be at least ${min}` }).max(max, { error: `must be at most ${max}` }));

/** A secret input: one token (a stray space or newline inside would be sent to Tailscale as part of it). */
const secret = z
  .string()
  .trim()
  .pipe(z.string().regex(/^\S*$/, { error: "must be a single value without spaces" }));

/** Space-separated extra arguments, as tailscale/github-action splits them (commas stay inside an argument). */
const args = z.string().transform((s) => s.split(/\s+/).filter(Boolean));

const RawInputs = z.object({
  gateway: httpUrl,
  // Goes into `--client-id=<id>?ephemeral=…`: nothing that could add attributes or flags.
  "oauth-client-id": z
    .string()
    .trim()
    .pipe(z.string().max(100).regex(/^[\w-]*$/, { error: "must be a client id such as kXYZ123CNTRL" })),
  audience: z.string().trim().pipe(z.string().max(500).regex(/^\S*$/, { error: "must be a single value without spaces" })),
  "oauth-secret": secret.pipe(
    z.union([z.literal(""), z.string().startsWith("tskey-client-", { error: 'must be an OAuth client secret ("tskey-client-…")' })]),
  ),
  authkey: secret,
  "gateway-audience": z.string().trim().transform((s) => s || DEFAULT_OIDC_AUDIENCE),
  tags: z.string().transform((s) => (list(s).length ? list(s) : [DEFAULT_TAG_TEMPLATE])),
  hostname: z.string().trim(),
  version: z
    .string()
    .trim()
    .transform((s) => s || DEFAULT_TAILSCALE_VERSION)
    .pipe(z.string().regex(/^(\d+\.\d+\.\d+|latest|unstable)$/, { error: "must be a version such as 1.94.2, latest or unstable" })),
  sha256sum: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.union([z.literal(""), z.string().regex(/^[0-9a-f]{64}$/, { error: "must be 64 hex characters" })])),
  "tailscale-download-url": z
    .string()
    .trim()
    .transform((s) => s || "https://pkgs.tailscale.com")
    .pipe(httpUrl),
  "use-cache": bool(true),
  args,
  "tailscaled-args": args,
  statedir: z.string().trim(),
  retry: whole(5, 1, 20),
  ping: z
    .string()
    .transform(list)
    .pipe(z.array(z.string().regex(/^[a-z0-9][a-z0-9.:-]*$/i, { error: "must list tailnet addresses or MagicDNS names" }))),
  timeout: duration,
  join: oneOf(["tailscale", "none", "token"], "tailscale"),
  agents,
  "provider-mode": oneOf(["anthropic", "bedrock", "vertex"], "anthropic"),
  "aws-region": z.string().trim(),
  "vertex-project-id": z.string().trim(),
  "vertex-region": z.string().trim(),
  "local-proxy": bool(false),
  "on-missing-oidc": oneOf(["fail", "skip"], "fail"),
});
export type InputName = keyof z.input<typeof RawInputs>;
export const INPUT_NAMES = Object.keys(RawInputs.shape) as InputName[];

/**
 * keyless's names before it took tailscale/github-action's. GitHub still hands a removed input to the Action (as
 * INPUT_*, with only an "Unexpected input" warning), so an old workflow fails naming the new input instead of
 * silently joining without it.
 */
export const RENAMED_INPUTS: Readonly<Record<string, InputName>> = {
  "tailscale-client-id": "oauth-client-id",
  "tailscale-audience": "audience",
  "tailscale-version": "version",
  "tailscale-sha256": "sha256sum",
  "tailscale-args": "args",
};

/** How the runner joins the tailnet, in tailscale/github-action's order of precedence. */
export type TailscaleAuth =
  /** Workload identity federation: the job's GitHub OIDC token for `audience`, exchanged by the CLI. */
  | { readonly kind: "federated"; readonly clientId: string; readonly audience: string }
  /** An OAuth client secret; the CLI mints a single-use tagged auth key with it. */
  | { readonly kind: "oauth"; readonly secret: string }
  | { readonly kind: "authkey"; readonly key: string };

export interface Inputs {
  readonly gateway: string;
  /** How to join; null unless join is tailscale. */
  readonly auth: TailscaleAuth | null;
  readonly gatewayAudience: string;
  /** Tag templates as given; expanded per repository by `resolveTags`. */
  readonly tags: readonly string[];
  readonly hostname: string;
  readonly version: string;
  readonly sha256sum: string;
  readonly downloadUrl: string;
  readonly useCache: boolean;
  readonly args: readonly string[];
  readonly tailscaledArgs: readonly string[];
  /** Where tailscaled keeps its state; "" keeps it in memory. */
  readonly statedir: string;
  /** Attempts at `tailscale up`. */
  readonly retry: number;
  /** Peers to `tailscale ping` once joined. */
  readonly ping: readonly string[];
  /** tailscale: join with the federated identity; none: already on the tailnet; token: off the tailnet, with a session token. */
  readonly join: "tailscale" | "none" | "token";
  readonly agents: readonly Agent[];
  readonly providerMode: "anthropic" | "bedrock" | "vertex";
  readonly awsRegion: string;
  readonly vertexProjectId: string;
  readonly vertexRegion: string;
  readonly localProxy: boolean;
  readonly onMissingOidc: "fail" | "skip";
  /** Milliseconds to wait for each `tailscale up` attempt, each ping, and then the gateway's /healthz. */
  readonly timeoutMs: number;
}

/** Reads and validates all inputs; `get` is `core.getInput` (or a fake). Throws an ActionError naming the bad input. */
export function readInputs(get: (name: string) => string): Inputs {
  const renamed = Object.entries(RENAMED_INPUTS)
    .filter(([old]) => get(old).trim() !== "")
    .map(([old, now]) => `input "${old}" was renamed "${now}", as tailscale/github-action names it`);
  const raw = Object.fromEntries(INPUT_NAMES.map((n) => [n, get(n)]));
  const parsed = RawInputs.safeParse(raw);
  const problems = [...renamed, ...(parsed.success ? [] : parsed.error.issues.map((i) => `input "${String(i.path[0])}" ${i.message}`))];
  if (!parsed.success || problems.length > 0) throw new ActionError(problems.join("; "));
  const r = parsed.data;
  if (r.join === "token" && !secureOrLocal(r.gateway)) {
    throw new ActionError(
      `join: token sends a bearer token to the gateway, so "gateway" must be an https URL (a TLS proxy of your own: ` +
        `the gateway refuses Tailscale Funnel), not ${r.gateway}`,
    );
  }
  return {
    gateway: r.gateway,
    auth: r.join === "tailscale" ? tailscaleAuth(r) : null,
    gatewayAudience: r["gateway-audience"],
    tags: r.tags,
    hostname: r.hostname,
    version: r.version,
    sha256sum: r.sha256sum,
    downloadUrl: r["tailscale-download-url"],
    useCache: r["use-cache"],
    args: r.args,
    tailscaledArgs: r["tailscaled-args"],
    statedir: r.statedir,
    retry: r.retry,
    ping: r.ping,
    join: r.join,
    agents: r.agents,
    providerMode: r["provider-mode"],
    awsRegion: r["aws-region"],
    vertexProjectId: r["vertex-project-id"],
    vertexRegion: r["vertex-region"],
    localProxy: r["local-proxy"],
    onMissingOidc: r["on-missing-oidc"],
    timeoutMs: r.timeout,
  };
}

/**
 * tailscale/github-action's precedence: an explicit audience means federation, then an OAuth secret, then an auth key.
 * keyless also federates with a client id alone (the audience Tailscale shows is derived from it).
 */
function tailscaleAuth(r: z.output<typeof RawInputs>): TailscaleAuth {
  const clientId = r["oauth-client-id"];
  const federated = (): TailscaleAuth => ({ kind: "federated", clientId, audience: r.audience || `api.tailscale.com/${clientId}` });
  if (r.audience) {
    if (!clientId) throw new ActionError('input "audience" is for workload identity federation and needs "oauth-client-id" as well');
    return federated();
  }
  if (r["oauth-secret"]) return { kind: "oauth", secret: r["oauth-secret"] };
  if (clientId) return federated();
  if (r.authkey) return { kind: "authkey", key: r.authkey };
  throw new ActionError(
    "joining the tailnet needs one of: oauth-client-id (workload identity federation: the client id of a Tailscale " +
      "federated identity, Settings → Trust credentials; no secret), oauth-secret (an OAuth client), or authkey; " +
      "or set join: none when an earlier step already joined",
  );
}

/** https, or a loopback host (a local proxy or a test): where a bearer token may travel. */
export function secureOrLocal(url: string): boolean {
  const u = new URL(url);
  return u.protocol === "https:" || ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
}
