// Every input of action.yml, parsed once with zod. Defaults repeat action.yml's so a direct `node dist/main.js` agrees.
import { z } from "zod";
import { DEFAULT_OIDC_AUDIENCE } from "../src/ci-session.js";
import { DEFAULT_TAG_TEMPLATE } from "../src/tags.js";
import { ActionError } from "./errors.js";

export const AGENTS = ["claude", "codex", "gemini", "openai"] as const;
export type Agent = (typeof AGENTS)[number];

export const DEFAULT_TAILSCALE_VERSION = "1.94.2";

const list = (raw: string): string[] =>
  raw
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

const bool = z
  .string()
  .transform((s) => s.trim())
  .pipe(z.enum(["", "true", "True", "TRUE", "false", "False", "FALSE"], { error: "must be true or false" }))
  .transform((s) => s.toLowerCase() === "true");

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

const seconds = z
  .string()
  .trim()
  .transform((s) => s || "120")
  .pipe(z.string().regex(/^\d+$/, { error: "must be a whole number of seconds" }))
  .transform(Number)
  .pipe(z.number().min(1).max(3600, { error: "must be at most 3600 seconds" }))
  .transform((s) => s * 1000);

const RawInputs = z.object({
  gateway: httpUrl,
  "tailscale-client-id": z.string().trim(),
  "tailscale-audience": z.string().trim(),
  "gateway-audience": z.string().trim().transform((s) => s || DEFAULT_OIDC_AUDIENCE),
  tags: z.string().transform((s) => (list(s).length ? list(s) : [DEFAULT_TAG_TEMPLATE])),
  hostname: z.string().trim(),
  "tailscale-version": z
    .string()
    .trim()
    .transform((s) => s || DEFAULT_TAILSCALE_VERSION)
    .pipe(z.string().regex(/^\d+\.\d+\.\d+$/, { error: "must be an exact version such as 1.94.2" })),
  "tailscale-sha256": z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.union([z.literal(""), z.string().regex(/^[0-9a-f]{64}$/, { error: "must be 64 hex characters" })])),
  "tailscale-download-url": z
    .string()
    .trim()
    .transform((s) => s || "https://pkgs.tailscale.com")
    .pipe(httpUrl),
  "tailscale-args": z.string().transform(list),
  join: oneOf(["tailscale", "none", "token"], "tailscale"),
  agents,
  "provider-mode": oneOf(["anthropic", "bedrock", "vertex"], "anthropic"),
  "aws-region": z.string().trim(),
  "vertex-project-id": z.string().trim(),
  "vertex-region": z.string().trim(),
  "local-proxy": bool,
  "on-missing-oidc": oneOf(["fail", "skip"], "fail"),
  timeout: seconds,
});
export type InputName = keyof z.input<typeof RawInputs>;
export const INPUT_NAMES = Object.keys(RawInputs.shape) as InputName[];

export interface Inputs {
  readonly gateway: string;
  readonly tailscaleClientId: string;
  readonly tailscaleAudience: string;
  readonly gatewayAudience: string;
  /** Tag templates as given; expanded per repository by `resolveTags`. */
  readonly tags: readonly string[];
  readonly hostname: string;
  readonly tailscaleVersion: string;
  readonly tailscaleSha256: string;
  readonly tailscaleDownloadUrl: string;
  readonly tailscaleArgs: readonly string[];
  /** tailscale: join with the federated identity; none: already on the tailnet; token: off the tailnet, with a session token. */
  readonly join: "tailscale" | "none" | "token";
  readonly agents: readonly Agent[];
  readonly providerMode: "anthropic" | "bedrock" | "vertex";
  readonly awsRegion: string;
  readonly vertexProjectId: string;
  readonly vertexRegion: string;
  readonly localProxy: boolean;
  readonly onMissingOidc: "fail" | "skip";
  /** Milliseconds to wait for `tailscale up` and then for the gateway's /healthz. */
  readonly timeoutMs: number;
}

/** Reads and validates all inputs; `get` is `core.getInput` (or a fake). Throws an ActionError naming the bad input. */
export function readInputs(get: (name: string) => string): Inputs {
  const raw = Object.fromEntries(INPUT_NAMES.map((n) => [n, get(n)]));
  const parsed = RawInputs.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `input "${String(i.path[0])}" ${i.message}`);
    throw new ActionError(lines.join("; "));
  }
  const r = parsed.data;
  if (r.join === "token" && !secureOrLocal(r.gateway)) {
    throw new ActionError(
      `join: token sends a bearer token to the gateway, so "gateway" must be an https URL (for example the gateway's ` +
        `Tailscale Funnel address), not ${r.gateway}`,
    );
  }
  if (r.join === "tailscale" && !r["tailscale-client-id"]) {
    throw new ActionError(
      'input "tailscale-client-id" is required to join the tailnet: give the client id of the Tailscale federated identity ' +
        "(Settings → Trust credentials), or set join: none when an earlier step already joined",
    );
  }
  return {
    gateway: r.gateway,
    tailscaleClientId: r["tailscale-client-id"],
    // Tailscale's federated identities expect this audience unless the admin chose another.
    tailscaleAudience: r["tailscale-audience"] || `api.tailscale.com/${r["tailscale-client-id"]}`,
    gatewayAudience: r["gateway-audience"],
    tags: r.tags,
    hostname: r.hostname,
    tailscaleVersion: r["tailscale-version"],
    tailscaleSha256: r["tailscale-sha256"],
    tailscaleDownloadUrl: r["tailscale-download-url"],
    tailscaleArgs: r["tailscale-args"],
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

/** https, or a loopback host (a local proxy or a test): where a bearer token may travel. */
export function secureOrLocal(url: string): boolean {
  const u = new URL(url);
  return u.protocol === "https:" || ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
}
