// What the agent actions people already use do to a job before their CLI runs, reimplemented from their source so
// tests can run the real CLIs exactly as those actions would: the environment their composite steps build over the
// job's, the files they write, and the command line. Each part names the file (and lines) it follows, at these commits.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { homedir } from "node:os";
import { join } from "node:path";

export const CLAUDE_CODE_ACTION = "anthropics/claude-code-action@24dcd50c0568f0fc9e9211213a4fd2d9eb15c4e0";
export const CODEX_ACTION = "openai/codex-action@9cdb6f3861cdefafeeaec70dfb42687be5ca62d3";
export const RUN_GEMINI_CLI = "google-github-actions/run-gemini-cli@3ca2577f2714990269a7378904cf70ae1e01e288";

type Env = Readonly<Record<string, string>>;

/** `${{ env.NAME }}`: a variable the job does not have evaluates to the empty string, which the step then sets. */
const jobVar = (job: Env, name: string): string => job[name] ?? "";

// ---- anthropics/claude-code-action -------------------------------------------------------------------------------

export interface ClaudeActionInputs {
  readonly anthropic_api_key?: string;
  readonly claude_code_oauth_token?: string;
  readonly use_bedrock?: string;
  readonly use_vertex?: string;
  readonly use_foundry?: string;
}

/**
 * The provider and auth part of the "Run Claude Code Action" step's `env:` (action.yml lines 335-372): inputs win,
 * some fall back to the job's variables, and a `use_*` input left at "false" blanks the job's CLAUDE_CODE_USE_*.
 * Everything else reaches Claude Code unchanged (base-action/src/parse-sdk-options.ts passes `{ ...process.env }`).
 */
export function claudeActionRunEnv(job: Env, inputs: ClaudeActionInputs): Record<string, string> {
  const flag = (v: string | undefined) => (v === "true" ? "1" : "");
  const fromJob = (names: readonly string[]) => Object.fromEntries(names.map((n) => [n, jobVar(job, n)]));
  const region = jobVar(job, "AWS_REGION");
  return {
    ...job,
    ANTHROPIC_API_KEY: inputs.anthropic_api_key || jobVar(job, "ANTHROPIC_API_KEY"),
    CLAUDE_CODE_OAUTH_TOKEN: inputs.claude_code_oauth_token || jobVar(job, "CLAUDE_CODE_OAUTH_TOKEN"),
    ANTHROPIC_FEDERATION_RULE_ID: "",
    ANTHROPIC_ORGANIZATION_ID: "",
    CLAUDE_CODE_USE_BEDROCK: flag(inputs.use_bedrock),
    CLAUDE_CODE_USE_VERTEX: flag(inputs.use_vertex),
    CLAUDE_CODE_USE_FOUNDRY: flag(inputs.use_foundry),
    ...fromJob(["ANTHROPIC_BASE_URL", "ANTHROPIC_CUSTOM_HEADERS", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]),
    ...fromJob(["AWS_BEARER_TOKEN_BEDROCK", "ANTHROPIC_VERTEX_PROJECT_ID", "CLOUD_ML_REGION", "GOOGLE_APPLICATION_CREDENTIALS", "ANTHROPIC_VERTEX_BASE_URL"]),
    ...fromJob(["ANTHROPIC_FOUNDRY_RESOURCE", "ANTHROPIC_FOUNDRY_BASE_URL", "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL"]),
    ANTHROPIC_BEDROCK_BASE_URL: jobVar(job, "ANTHROPIC_BEDROCK_BASE_URL") || (region && `https://bedrock-runtime.${region}.amazonaws.com`),
  };
}

/**
 * The key the "Post buffered inline comments" step (action.yml lines 431-446) hands its classifier, which posts it to
 * https://api.anthropic.com/v1/messages (src/entrypoints/post-buffered-inline-comments.ts): the input only, no fallback.
 */
export function claudeActionClassifierKey(inputs: ClaudeActionInputs): string {
  return inputs.anthropic_api_key ?? "";
}

/**
 * base-action/src/validate-env.ts `validateEnvironmentVariables`, rule for rule: the messages it would throw, or none.
 * Empty strings count as unset (its checks are truthiness checks).
 */
export function claudeActionEnvErrors(env: Env): string[] {
  const bedrock = env.CLAUDE_CODE_USE_BEDROCK === "1";
  const vertex = env.CLAUDE_CODE_USE_VERTEX === "1";
  const foundry = env.CLAUDE_CODE_USE_FOUNDRY === "1";
  const errors: string[] = [];
  if ([bedrock, vertex, foundry].filter(Boolean).length > 1) errors.push("Cannot use multiple providers simultaneously.");
  if (!bedrock && !vertex && !foundry) {
    const wif = Boolean(env.ANTHROPIC_FEDERATION_RULE_ID && env.ANTHROPIC_ORGANIZATION_ID);
    if (!env.ANTHROPIC_API_KEY && !env.CLAUDE_CODE_OAUTH_TOKEN && !wif) {
      errors.push("Either ANTHROPIC_API_KEY, CLAUDE_CODE_OAUTH_TOKEN, or workload identity federation is required when using direct Anthropic API.");
    }
  } else if (bedrock) {
    if (!env.AWS_REGION) errors.push("AWS_REGION is required when using AWS Bedrock.");
    if (!(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) && !env.AWS_BEARER_TOKEN_BEDROCK) {
      errors.push("Either AWS_BEARER_TOKEN_BEDROCK or both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required when using AWS Bedrock.");
    }
  } else if (vertex) {
    for (const name of ["ANTHROPIC_VERTEX_PROJECT_ID", "CLOUD_ML_REGION"]) {
      if (!env[name]) errors.push(`${name} is required when using Google Vertex AI.`);
    }
  } else if (!env.ANTHROPIC_FOUNDRY_RESOURCE && !env.ANTHROPIC_FOUNDRY_BASE_URL) {
    errors.push("Either ANTHROPIC_FOUNDRY_RESOURCE or ANTHROPIC_FOUNDRY_BASE_URL is required when using Microsoft Foundry.");
  }
  return errors;
}

// ---- openai/codex-action -----------------------------------------------------------------------------------------

/** The "Resolve Codex home" step (src/main.ts `resolveCodexHome`): the input, else the job's CODEX_HOME, else ~/.codex. */
export function codexActionHome(job: Env, codexHomeInput = ""): string {
  return codexHomeInput || job.CODEX_HOME || join(job.HOME ?? homedir(), ".codex");
}

/**
 * src/writeProxyConfig.ts `writeProxyConfig`, byte for byte: its `model_provider` prepended at the very top of
 * `$CODEX_HOME/config.toml`, its provider table (the local Responses proxy) appended.
 */
export function codexActionConfig(existing: string | null, port: number): string {
  const provider = "codex-action-responses-proxy";
  const header = `# Added by codex-action.\nmodel_provider = "${provider}"\n\n\n`;
  const table = `\n\n# Added by codex-action.\n[model_providers.${provider}]\nname = "Codex Action Responses Proxy"\nbase_url = "http://127.0.0.1:${port}/v1"\nwire_api = "responses"\n`;
  return `${header}${existing ?? ""}${table}`;
}

export interface CodexActionRun {
  readonly prompt: string;
  readonly codexHome: string;
  readonly cd: string;
  readonly outputFile: string;
  readonly model?: string;
  readonly sandbox?: "read-only" | "workspace-write" | "danger-full-access";
  readonly extraArgs?: readonly string[];
}

/** src/runCodexExec.ts: the arguments, the environment it adds, and the prompt it writes to stdin. */
export function codexActionExec(job: Env, run: CodexActionRun): { args: string[]; env: Record<string, string>; input: string } {
  const args = ["exec", "--skip-git-repo-check", "--cd", run.cd, "--output-last-message", run.outputFile];
  if (run.model) args.push("--model", run.model);
  args.push(...(run.extraArgs ?? []), "--sandbox", run.sandbox ?? "workspace-write");
  const env: Record<string, string> = { ...job, CODEX_HOME: run.codexHome };
  env.CODEX_INTERNAL_ORIGINATOR_OVERRIDE ||= "codex_github_action";
  return { args, env, input: run.prompt };
}

export interface ResponsesProxy {
  readonly port: number;
  /** Authorization headers Codex sent to the proxy (the proxy replaces them). */
  readonly received: (string | undefined)[];
  close(): Promise<void>;
}

/**
 * codex-responses-api-proxy (openai/codex codex-rs/responses-api-proxy/src/lib.rs `forward_request`), which
 * codex-action starts with `openai-api-key` on stdin and `responses-api-endpoint` as `--upstream-url`; its npm package
 * does not install here. On 127.0.0.1 it takes only `POST /v1/responses`, drops the caller's Authorization and Host,
 * sends `Authorization: Bearer <key>` to the upstream URL and relays the answer's status, headers and bytes.
 */
export async function startResponsesProxy(key: string, upstreamUrl: string): Promise<ResponsesProxy> {
  const upstream = new URL(upstreamUrl);
  const received: (string | undefined)[] = [];
  const hopByHop = new Set(["content-length", "transfer-encoding", "connection", "trailer", "upgrade"]);
  const server = http.createServer((req, res) => {
    if (req.method !== "POST" || req.url !== "/v1/responses") {
      res.writeHead(403).end();
      return;
    }
    received.push(req.headers.authorization);
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (name !== "authorization" && name !== "host" && value !== undefined) headers[name] = value;
    }
    headers.authorization = `Bearer ${key}`;
    headers.host = upstream.host;
    const out = http.request(upstream, { method: "POST", headers }, (answer) => {
      const relayed = Object.entries(answer.headers).filter(([name]) => !hopByHop.has(name));
      res.writeHead(answer.statusCode ?? 502, Object.fromEntries(relayed) as http.OutgoingHttpHeaders);
      answer.pipe(res);
    });
    out.once("error", () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

// ---- google-github-actions/run-gemini-cli ------------------------------------------------------------------------

export interface GeminiActionInputs {
  readonly prompt: string;
  readonly gemini_api_key?: string;
}

/**
 * The "Run Gemini CLI" step (action.yml lines 286-431): its `env:` over the job's (GEMINI_API_KEY from the input only,
 * so the job's is blanked without it; GOOGLE_GEMINI_BASE_URL and GEMINI_CLI_TRUST_WORKSPACE pass through from the
 * job), and its command line.
 */
export function geminiActionRun(job: Env, inputs: GeminiActionInputs): { args: string[]; env: Record<string, string> } {
  const env = {
    ...job,
    GEMINI_DEBUG: "false",
    GEMINI_API_KEY: inputs.gemini_api_key ?? "",
    SURFACE: "GitHub",
    GOOGLE_CLOUD_PROJECT: "",
    GOOGLE_CLOUD_LOCATION: "",
    GOOGLE_GENAI_USE_VERTEXAI: "false",
    GOOGLE_API_KEY: "",
    GOOGLE_GENAI_USE_GCA: "false",
    GOOGLE_CLOUD_ACCESS_TOKEN: "",
    PROMPT: inputs.prompt,
    GEMINI_MODEL: "",
    GH_WORKFLOW_NAME: "review",
    GH_PR_NUMBER: "",
    GH_ISSUE_NUMBER: "",
  };
  return { args: ["--yolo", "--prompt", inputs.prompt, "--output-format", "json"], env };
}
