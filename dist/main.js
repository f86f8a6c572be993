import { createRequire as __keylessCreateRequire } from "node:module";
const require = __keylessCreateRequire(import.meta.url);
import {
  DEFAULT_OIDC_AUDIENCE,
  DEFAULT_TAG_TEMPLATE,
  clock,
  createSession,
  deriveHostname,
  deriveTag,
  ensureDaemon,
  ensureInstalled,
  exec,
  external_exports,
  getInput,
  pingPeers,
  runnerCore,
  setFailed,
  spawnDetached,
  toolCache,
  up,
  waitForHealth,
  which
} from "./chunks/chunk-OUSDEZKD.js";
import {
  ActionError,
  describeError,
  startProxy
} from "./chunks/chunk-43Z4EIJG.js";

// action/main.ts
import { join as join2 } from "node:path";
import { fileURLToPath } from "node:url";

// action/agents.ts
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

// action/inputs.ts
var AGENTS = ["claude", "codex", "gemini", "openai"];
var DEFAULT_TAILSCALE_VERSION = "1.94.2";
var DEFAULT_TIMEOUT = "2m";
var list = (raw) => raw.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
var bool = (fallback) => external_exports.string().transform((s) => s.trim()).pipe(external_exports.enum(["", "true", "True", "TRUE", "false", "False", "FALSE"], { error: "must be true or false" })).transform((s) => s === "" ? fallback : s.toLowerCase() === "true");
var httpUrl = external_exports.string().trim().min(1, { error: "is required" }).transform((s, ctx) => {
  let url;
  try {
    url = new URL(s);
  } catch {
    ctx.addIssue({ code: "custom", message: `must be a URL such as http://ai-gateway (got "${s}")` });
    return external_exports.NEVER;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    ctx.addIssue({ code: "custom", message: `must use http or https (got "${url.protocol}")` });
    return external_exports.NEVER;
  }
  if (url.search || url.hash || url.username || url.password) {
    ctx.addIssue({ code: "custom", message: "must not contain credentials, a query or a fragment" });
    return external_exports.NEVER;
  }
  return url.href.replace(/\/+$/, "");
});
var oneOf = (values, fallback) => external_exports.string().trim().transform((s) => s || fallback).pipe(external_exports.enum(values, { error: `must be one of ${values.join(", ")}` }));
var agents = external_exports.string().transform((s, ctx) => {
  const names = list(s.toLowerCase());
  if (names.length === 0 || names.includes("all")) return [...AGENTS];
  if (names.includes("none")) return [];
  for (const n of names) {
    if (!AGENTS.includes(n)) {
      ctx.addIssue({ code: "custom", message: `unknown agent "${n}"; use all, none or a list of ${AGENTS.join(", ")}` });
      return external_exports.NEVER;
    }
  }
  return [...new Set(names)];
});
var duration = external_exports.string().trim().transform((s) => s || DEFAULT_TIMEOUT).pipe(external_exports.string().regex(/^\d+[smh]?$/, { error: "must be a duration such as 120, 90s or 2m" })).transform((s) => Number.parseInt(s, 10) * ({ s: 1, m: 60, h: 3600 }[s.at(-1)] ?? 1)).pipe(external_exports.number().min(1, { error: "must be at least 1s" }).max(3600, { error: "must be at most 1h" })).transform((s) => s * 1e3);
var whole = (fallback, min, max) => external_exports.string().trim().transform((s) => s || String(fallback)).pipe(external_exports.string().regex(/^\d+$/, { error: "must be a whole number" })).transform(Number).pipe(external_exports.number().min(min, { error: `must be at least ${min}` }).max(max, { error: `must be at most ${max}` }));
var secret = external_exports.string().trim().pipe(external_exports.string().regex(/^\S*$/, { error: "must be a single value without spaces" }));
var args = external_exports.string().transform((s) => s.split(/\s+/).filter(Boolean));
var RawInputs = external_exports.object({
  gateway: httpUrl,
  // Goes into `--client-id=<id>?ephemeral=…`: nothing that could add attributes or flags.
  "oauth-client-id": external_exports.string().trim().pipe(external_exports.string().max(100).regex(/^[\w-]*$/, { error: "must be a client id such as kXYZ123CNTRL" })),
  audience: external_exports.string().trim().pipe(external_exports.string().max(500).regex(/^\S*$/, { error: "must be a single value without spaces" })),
  "oauth-secret": secret.pipe(
    external_exports.union([external_exports.literal(""), external_exports.string().startsWith("tskey-client-", { error: 'must be an OAuth client secret ("tskey-client-…")' })])
  ),
  authkey: secret,
  "gateway-audience": external_exports.string().trim().transform((s) => s || DEFAULT_OIDC_AUDIENCE),
  tags: external_exports.string().transform((s) => list(s).length ? list(s) : [DEFAULT_TAG_TEMPLATE]),
  hostname: external_exports.string().trim(),
  version: external_exports.string().trim().transform((s) => s || DEFAULT_TAILSCALE_VERSION).pipe(external_exports.string().regex(/^(\d+\.\d+\.\d+|latest|unstable)$/, { error: "must be a version such as 1.94.2, latest or unstable" })),
  sha256sum: external_exports.string().trim().toLowerCase().pipe(external_exports.union([external_exports.literal(""), external_exports.string().regex(/^[0-9a-f]{64}$/, { error: "must be 64 hex characters" })])),
  "tailscale-download-url": external_exports.string().trim().transform((s) => s || "https://pkgs.tailscale.com").pipe(httpUrl),
  "use-cache": bool(true),
  args,
  "tailscaled-args": args,
  statedir: external_exports.string().trim(),
  retry: whole(5, 1, 20),
  ping: external_exports.string().transform(list).pipe(external_exports.array(external_exports.string().regex(/^[a-z0-9][a-z0-9.:-]*$/i, { error: "must list tailnet addresses or MagicDNS names" }))),
  timeout: duration,
  join: oneOf(["tailscale", "none", "token"], "tailscale"),
  agents,
  "provider-mode": oneOf(["anthropic", "bedrock", "vertex"], "anthropic"),
  "aws-region": external_exports.string().trim(),
  "vertex-project-id": external_exports.string().trim(),
  "vertex-region": external_exports.string().trim(),
  "local-proxy": bool(false),
  "on-missing-oidc": oneOf(["fail", "skip"], "fail")
});
var INPUT_NAMES = Object.keys(RawInputs.shape);
var RENAMED_INPUTS = {
  "tailscale-client-id": "oauth-client-id",
  "tailscale-audience": "audience",
  "tailscale-version": "version",
  "tailscale-sha256": "sha256sum",
  "tailscale-args": "args"
};
function readInputs(get) {
  const renamed = Object.entries(RENAMED_INPUTS).filter(([old]) => get(old).trim() !== "").map(([old, now]) => `input "${old}" was renamed "${now}", as tailscale/github-action names it`);
  const raw = Object.fromEntries(INPUT_NAMES.map((n) => [n, get(n)]));
  const parsed = RawInputs.safeParse(raw);
  const problems = [...renamed, ...parsed.success ? [] : parsed.error.issues.map((i) => `input "${String(i.path[0])}" ${i.message}`)];
  if (!parsed.success || problems.length > 0) throw new ActionError(problems.join("; "));
  const r = parsed.data;
  if (r.join === "token" && !secureOrLocal(r.gateway)) {
    throw new ActionError(
      `join: token sends a bearer token to the gateway, so "gateway" must be an https URL (a TLS proxy of your own: the gateway refuses Tailscale Funnel), not ${r.gateway}`
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
    timeoutMs: r.timeout
  };
}
function tailscaleAuth(r) {
  const clientId = r["oauth-client-id"];
  const federated = () => ({ kind: "federated", clientId, audience: r.audience || `api.tailscale.com/${clientId}` });
  if (r.audience) {
    if (!clientId) throw new ActionError('input "audience" is for workload identity federation and needs "oauth-client-id" as well');
    return federated();
  }
  if (r["oauth-secret"]) return { kind: "oauth", secret: r["oauth-secret"] };
  if (clientId) return federated();
  if (r.authkey) return { kind: "authkey", key: r.authkey };
  throw new ActionError(
    "joining the tailnet needs one of: oauth-client-id (workload identity federation: the client id of a Tailscale federated identity, Settings → Trust credentials; no secret), oauth-secret (an OAuth client), or authkey; or set join: none when an earlier step already joined"
  );
}
function secureOrLocal(url) {
  const u = new URL(url);
  return u.protocol === "https:" || ["localhost", "127.0.0.1", "[::1]"].includes(u.hostname);
}

// action/agents.ts
var PLACEHOLDER_KEY = "keyless";
function agentSetup(base, inputs, ctx, key = PLACEHOLDER_KEY) {
  const env = {};
  const outputs = {};
  const files = [];
  const warnings = [];
  const configure = {
    claude: () => {
      env.ANTHROPIC_BASE_URL = base;
      env.ANTHROPIC_API_KEY = key;
      env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1";
      outputs["claude-base-url"] = base;
      if (inputs.providerMode === "bedrock") {
        env.CLAUDE_CODE_USE_BEDROCK = "1";
        env.ANTHROPIC_BEDROCK_BASE_URL = `${base}/bedrock`;
        env.CLAUDE_CODE_SKIP_BEDROCK_AUTH = "1";
        env.AWS_BEARER_TOKEN_BEDROCK = key;
        preset(env, ctx, "AWS_REGION", inputs.awsRegion, "us-east-1");
        outputs["claude-base-url"] = env.ANTHROPIC_BEDROCK_BASE_URL;
      } else if (inputs.providerMode === "vertex") {
        env.CLAUDE_CODE_USE_VERTEX = "1";
        env.ANTHROPIC_VERTEX_BASE_URL = `${base}/v1`;
        env.CLAUDE_CODE_SKIP_VERTEX_AUTH = "1";
        preset(env, ctx, "ANTHROPIC_VERTEX_PROJECT_ID", inputs.vertexProjectId, "keyless");
        preset(env, ctx, "CLOUD_ML_REGION", inputs.vertexRegion, "us-east5");
        outputs["claude-base-url"] = env.ANTHROPIC_VERTEX_BASE_URL;
      }
    },
    openai: () => {
      env.OPENAI_BASE_URL = `${base}/v1`;
      env.OPENAI_API_KEY = key;
      outputs["openai-base-url"] = env.OPENAI_BASE_URL;
    },
    codex: () => {
      const home = join(ctx.runnerTemp, "keyless", "codex");
      if (ctx.presetEnv.CODEX_HOME && ctx.presetEnv.CODEX_HOME !== home) {
        warnings.push(`CODEX_HOME was ${ctx.presetEnv.CODEX_HOME}; later steps use ${home}, whose profile "keyless" points Codex at the gateway`);
      }
      env.CODEX_HOME = home;
      env.KEYLESS_API_KEY = key;
      files.push({ path: join(home, "config.toml"), render: () => codexConfig(`${base}/v1`) });
      files.push({ path: join(home, `${CODEX_PROFILE}.config.toml`), render: codexProfile });
      outputs["codex-base-url"] = `${base}/v1`;
      outputs["codex-home"] = home;
    },
    gemini: () => {
      env.GOOGLE_GEMINI_BASE_URL = base;
      env.GEMINI_API_KEY = key;
      files.push({ path: join(ctx.home, ".gemini", "settings.json"), render: geminiSettings });
      outputs["gemini-base-url"] = base;
      if (!secureOrLocal(base)) {
        warnings.push(
          `Gemini CLI refuses plain-http base URLs except on localhost, so it will reject ${base}; set local-proxy: true, or serve the gateway over https (tailscale serve)`
        );
      }
    }
  };
  for (const agent of inputs.agents) configure[agent]();
  return { env, outputs, files, warnings };
}
function preset(env, ctx, name, input, fallback) {
  if (input) env[name] = input;
  else if (!ctx.presetEnv[name]) env[name] = fallback;
}
var CODEX_PROFILE = "keyless";
function codexConfig(baseUrl) {
  return [
    `# Written by keyless: the gateway as a Codex provider, selected by \`codex --profile ${CODEX_PROFILE}\`.`,
    "[model_providers.keyless]",
    'name = "keyless"',
    `base_url = ${JSON.stringify(baseUrl)}`,
    'env_key = "KEYLESS_API_KEY"',
    'wire_api = "responses"',
    "",
    "# CI runs should not phone home (ab.chatgpt.com).",
    "[analytics]",
    "enabled = false",
    ""
  ].join("\n");
}
function codexProfile() {
  return ["# Written by keyless: Codex sends its requests to the keyless gateway.", 'model_provider = "keyless"', ""].join("\n");
}
function geminiSettings(existing) {
  let settings = {};
  if (existing?.trim()) {
    const parsed = JSON.parse(existing);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) settings = parsed;
  }
  const security = objectAt(settings, "security");
  const auth = objectAt(security, "auth");
  auth.selectedType = "gemini-api-key";
  const privacy = objectAt(settings, "privacy");
  privacy.usageStatisticsEnabled ??= false;
  return `${JSON.stringify(settings, null, 2)}
`;
}
function objectAt(parent, key) {
  const v = parent[key];
  if (v && typeof v === "object" && !Array.isArray(v)) return v;
  const fresh = {};
  parent[key] = fresh;
  return fresh;
}
function writeAgentFiles(files, warn) {
  for (const f of files) {
    const existing = existsSync(f.path) ? readFileSync(f.path, "utf8") : null;
    let content;
    try {
      content = f.render(existing);
    } catch (err) {
      warn(`left ${f.path} unchanged: it could not be read as JSON (${err.message}); set security.auth.selectedType to "gemini-api-key" yourself`);
      continue;
    }
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, content);
  }
}

// action/context.ts
import { readFileSync as readFileSync2 } from "node:fs";
var Sha = external_exports.string().regex(/^[0-9a-f]{40}$/);
var Payload = external_exports.looseObject({
  pull_request: external_exports.looseObject({ number: external_exports.number().int().positive(), head: external_exports.looseObject({ sha: external_exports.string(), repo: external_exports.looseObject({ full_name: external_exports.string() }).nullish() }).optional() }).optional(),
  issue: external_exports.looseObject({ number: external_exports.number().int().positive(), pull_request: external_exports.unknown().optional() }).optional(),
  workflow_run: external_exports.looseObject({ head_sha: external_exports.string(), pull_requests: external_exports.array(external_exports.looseObject({ number: external_exports.number().int().positive() })).default([]) }).optional()
});
var PRESET_VARS = ["AWS_REGION", "CLOUD_ML_REGION", "ANTHROPIC_VERTEX_PROJECT_ID", "CODEX_HOME"];
function readContext(env = process.env) {
  const eventPath = env.GITHUB_EVENT_PATH;
  return {
    repository: env.GITHUB_REPOSITORY ?? "",
    runId: env.GITHUB_RUN_ID ?? "0",
    runAttempt: env.GITHUB_RUN_ATTEMPT ?? "1",
    job: env.GITHUB_JOB ?? "",
    actor: env.GITHUB_ACTOR ?? "",
    eventName: env.GITHUB_EVENT_NAME ?? "",
    payload: eventPath ? readPayload(eventPath) : {},
    runnerTemp: env.RUNNER_TEMP || env.TMPDIR || "/tmp",
    home: env.HOME ?? env.USERPROFILE ?? "",
    platform: process.platform,
    arch: process.arch,
    oidcAvailable: Boolean(env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN),
    isRoot: typeof process.getuid === "function" && process.getuid() === 0,
    presetEnv: Object.fromEntries(PRESET_VARS.filter((v) => env[v]).map((v) => [v, env[v]]))
  };
}
function readPayload(path) {
  let raw;
  try {
    raw = JSON.parse(readFileSync2(path, "utf8"));
  } catch {
    return {};
  }
  const parsed = Payload.safeParse(raw);
  return parsed.success ? parsed.data : {};
}
function pullRequestOf(ctx) {
  const { pull_request: pr, issue, workflow_run: wr } = ctx.payload;
  if (ctx.eventName === "pull_request") {
    const sha = pr?.head?.sha;
    return sha && Sha.safeParse(sha).success ? { head_sha: sha } : {};
  }
  if (pr) return withSha(pr.number, pr.head?.sha);
  if (issue?.pull_request) return { pr_number: issue.number };
  const first = wr?.pull_requests[0];
  if (wr && first) return withSha(first.number, wr.head_sha);
  return {};
}
function withSha(pr_number, sha) {
  return Sha.safeParse(sha).success ? { pr_number, head_sha: sha } : { pr_number };
}
function forkOf(ctx) {
  const head = ctx.payload.pull_request?.head?.repo?.full_name;
  return head && head !== ctx.repository ? head : null;
}

// action/oidc.ts
async function getOidcToken(core, audience, forWhat) {
  let token;
  try {
    token = await core.getIDToken(audience);
  } catch (err) {
    const cause = err.message.replace(/^Error message:\s*/, "").replace(/\s+/g, " ").trim();
    throw new ActionError(`could not get a GitHub OIDC token for ${forWhat} (audience "${audience}"): ${cause}`);
  }
  core.setSecret(token);
  return token;
}
function missingOidcMessage(ctx) {
  const fork = forkOf(ctx);
  const why = fork ? `This run is a pull request from the fork ${fork}; GitHub gives such runs no OIDC token.` : ctx.actor === "dependabot[bot]" ? "Dependabot runs get no OIDC token." : "The job lacks the `id-token: write` permission.";
  return `keyless needs a GitHub OIDC token to join the tailnet and register the job, but this job cannot get one. ${why} Add \`permissions: { id-token: write, contents: read }\` to the job; for runs that can never have a token (forks, Dependabot) set \`on-missing-oidc: skip\` to continue without the gateway.`;
}

// action/main.ts
function resolveTags(templates, repository) {
  const tags = templates.map((t) => {
    try {
      return deriveTag(t, repository);
    } catch (err) {
      throw new ActionError(`input "tags": ${err.message}`);
    }
  });
  return [...new Set(tags)];
}
async function runMain(inputs, ctx, deps) {
  const { core } = deps;
  if (inputs.auth?.kind === "oauth") core.setSecret(inputs.auth.secret);
  if (inputs.auth?.kind === "authkey") core.setSecret(inputs.auth.key);
  const save = (key2, value) => core.saveState(key2, String(value));
  const tags = resolveTags(inputs.tags, ctx.repository);
  if (!ctx.oidcAvailable) {
    if (inputs.onMissingOidc === "skip") {
      core.warning(`${missingOidcMessage(ctx)} Continuing without the gateway (on-missing-oidc: skip); no agent is configured.`);
      core.setOutput("skipped", "true");
      return;
    }
    throw new ActionError(missingOidcMessage(ctx));
  }
  save("gateway", inputs.gateway);
  if (inputs.auth) await joinTailnet(inputs, inputs.auth, ctx, tags, deps, save);
  const reach = {
    tailscale: `the tailnet policy lets ${tags.join(",")} reach it`,
    none: "this runner's tailnet identity may reach it",
    token: "it is published at this URL (a TLS proxy of your own; the gateway refuses Tailscale Funnel)"
  }[inputs.join];
  await waitForHealth(inputs.gateway, inputs.timeoutMs, reach, deps);
  const oidcToken = await getOidcToken(core, inputs.gatewayAudience, "the gateway");
  const pr = pullRequestOf(ctx);
  const job = ctx.job ? { job: ctx.job.slice(0, 100) } : {};
  const wantsToken = inputs.join === "token" ? { session_token: true } : {};
  const created = await createSession(inputs.gateway, { oidc_token: oidcToken, ...pr, ...job, ...wantsToken }, deps.fetch);
  const { session, resumed } = created;
  save("session_id", session.id);
  let key;
  if (inputs.join === "token") {
    if (!created.session_token) throw new ActionError("the gateway opened the session but issued no session token; is it a keyless version with session tokens?");
    key = created.session_token;
    core.setSecret(key);
    save("session_token", key);
    core.info(`Session token issued, valid until ${created.session_token_expires_at ?? "the session finishes"}`);
  }
  core.info(
    `${resumed ? "Resumed" : "Registered"} session ${session.id} for ${session.repository} run ${session.run_id}` + (session.pr_number ? ` (PR #${session.pr_number})` : "") + ` with ${inputs.gateway}` + (session.check_run_url ? `; check run: ${session.check_run_url}` : "")
  );
  let base = inputs.gateway;
  if (inputs.localProxy) {
    const dir = join2(ctx.runnerTemp, "keyless");
    const proxy = await startProxy(
      { target: inputs.gateway, node: deps.node, script: deps.proxyScript, readyFile: join2(dir, `proxy-${process.pid}.json`), logFile: join2(dir, "proxy.log") },
      deps
    );
    save("proxy_pid", proxy.pid);
    base = proxy.url;
    core.info(`Local proxy ${base} forwards to ${inputs.gateway}`);
  }
  const setup = agentSetup(base, inputs, ctx, key);
  writeAgentFiles(setup.files, (m) => core.warning(m));
  for (const w of setup.warnings) core.warning(w);
  const env = { ...setup.env, KEYLESS_BASE_URL: base, KEYLESS_SESSION_ID: session.id };
  for (const [name, value] of Object.entries(env)) core.exportVariable(name, value);
  core.info(`Configured ${inputs.agents.length ? inputs.agents.join(", ") : "no agents"}; exported ${Object.keys(env).sort().join(", ")}`);
  core.setOutput("base-url", base);
  core.setOutput("session-id", session.id);
  core.setOutput("skipped", "false");
  for (const [name, value] of Object.entries(setup.outputs)) core.setOutput(name, value);
}
async function joinTailnet(inputs, auth, ctx, tags, deps, save) {
  const { core } = deps;
  const tsDeps = { ...deps, log: core };
  const bin = await ensureInstalled(
    { version: inputs.version, sha256: inputs.sha256sum, downloadUrl: inputs.downloadUrl, useCache: inputs.useCache },
    ctx,
    tsDeps
  );
  if (bin.installedDir) core.addPath(bin.installedDir);
  save("tailscale", bin.tailscale);
  save("tailscaled", bin.tailscaled);
  save("sudo", bin.sudo);
  const daemon = { logFile: join2(ctx.runnerTemp, "keyless-tailscaled.log"), statedir: inputs.statedir, extraArgs: inputs.tailscaledArgs };
  const daemonPid = await ensureDaemon(bin, daemon, tsDeps);
  if (daemonPid !== null) save("tailscaled_pid", daemonPid);
  const hostname = inputs.hostname || deriveHostname(ctx.repository, ctx.runId, ctx.runAttempt);
  const credential = auth.kind === "federated" ? { kind: "federated", clientId: auth.clientId, idToken: () => getOidcToken(core, auth.audience, "Tailscale") } : auth;
  await up(
    bin,
    { credential, tags, hostname, timeoutMs: inputs.timeoutMs, extraArgs: inputs.args, attempts: inputs.retry, tempDir: ctx.runnerTemp },
    tsDeps
  );
  save("joined", "true");
  core.info(`Joined the tailnet as ${hostname} with tags ${tags.join(",")}`);
  await pingPeers(bin, inputs.ping, inputs.timeoutMs, tsDeps);
}
async function run(proxyScript) {
  try {
    const inputs = readInputs((name) => getInput(name));
    await runMain(inputs, readContext(), {
      core: runnerCore,
      exec,
      which,
      spawnDetached,
      toolCache,
      fetch: globalThis.fetch,
      clock,
      node: process.execPath,
      proxyScript: fileURLToPath(proxyScript)
    });
  } catch (err) {
    setFailed(describeError(err));
  }
}

// action/index.ts
await run(new URL("./proxy.js", import.meta.url));
