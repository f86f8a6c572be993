// How each agent is pointed at the gateway: environment for later steps, plus the files Codex and Gemini CLI need.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { RunContext } from "./context.js";
import { type Agent, type Inputs, secureOrLocal } from "./inputs.js";

/** Agents need some key to send; on the tailnet the gateway ignores it and identifies the job by its node. */
export const PLACEHOLDER_KEY = "keyless";

export interface AgentFile {
  readonly path: string;
  /** New content given what is there now (null when absent), so user settings are merged, not clobbered. */
  readonly render: (existing: string | null) => string;
}

export interface AgentSetup {
  readonly env: Readonly<Record<string, string>>;
  readonly outputs: Readonly<Record<string, string>>;
  readonly files: readonly AgentFile[];
  readonly warnings: readonly string[];
}

type AgentInputs = Pick<Inputs, "agents" | "providerMode" | "awsRegion" | "vertexProjectId" | "vertexRegion">;

/** `key` is what agents present: the placeholder, or a session token for runners off the tailnet. */
export function agentSetup(
  base: string,
  inputs: AgentInputs,
  ctx: Pick<RunContext, "runnerTemp" | "home" | "presetEnv">,
  key: string = PLACEHOLDER_KEY,
): AgentSetup {
  const env: Record<string, string> = {};
  const outputs: Record<string, string> = {};
  const files: AgentFile[] = [];
  const warnings: string[] = [];
  const configure: Record<Agent, () => void> = {
    claude: () => {
      env.ANTHROPIC_BASE_URL = base;
      env.ANTHROPIC_API_KEY = key;
      env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = "1";
      outputs["claude-base-url"] = base;
      if (inputs.providerMode === "bedrock") {
        env.CLAUDE_CODE_USE_BEDROCK = "1";
        env.ANTHROPIC_BEDROCK_BASE_URL = `${base}/bedrock`;
        env.CLAUDE_CODE_SKIP_BEDROCK_AUTH = "1";
        // claude-code-action refuses Bedrock without AWS credentials or this token; the gateway signs for AWS itself.
        env.AWS_BEARER_TOKEN_BEDROCK = key;
        preset(env, ctx, "AWS_REGION", inputs.awsRegion, "us-east-1");
        outputs["claude-base-url"] = env.ANTHROPIC_BEDROCK_BASE_URL;
      } else if (inputs.providerMode === "vertex") {
        env.CLAUDE_CODE_USE_VERTEX = "1";
        env.ANTHROPIC_VERTEX_BASE_URL = `${base}/v1`;
        env.CLAUDE_CODE_SKIP_VERTEX_AUTH = "1";
        // Claude Code insists on both; the gateway routes with its own project and region.
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
      // Codex ignores OPENAI_BASE_URL; a custom provider in its own CODEX_HOME is the reliable way. The provider is
      // selected by the `keyless` profile, not by a top-level model_provider, which openai/codex-action prepends its own.
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
          `Gemini CLI refuses plain-http base URLs except on localhost, so it will reject ${base}; ` +
            "set local-proxy: true, or serve the gateway over https (tailscale serve)",
        );
      }
    },
  };
  for (const agent of inputs.agents) configure[agent]();
  return { env, outputs, files, warnings };
}

function preset(
  env: Record<string, string>,
  ctx: Pick<RunContext, "presetEnv">,
  name: "AWS_REGION" | "CLOUD_ML_REGION" | "ANTHROPIC_VERTEX_PROJECT_ID",
  input: string,
  fallback: string,
): void {
  if (input) env[name] = input;
  else if (!ctx.presetEnv[name]) env[name] = fallback;
}

/** `codex --profile keyless` layers `$CODEX_HOME/keyless.config.toml` over config.toml (Codex 0.171.0). */
export const CODEX_PROFILE = "keyless";

/**
 * The gateway as a Codex provider, and no top-level keys: openai/codex-action prepends `model_provider = …` to this
 * file, and a second top-level `model_provider` would stop Codex ("duplicate key").
 */
export function codexConfig(baseUrl: string): string {
  // JSON strings are valid TOML basic strings.
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
    "",
  ].join("\n");
}

/** The profile layer that selects the provider (Codex refuses a top-level `profile = …` in config.toml). */
export function codexProfile(): string {
  return ["# Written by keyless: Codex sends its requests to the keyless gateway.", 'model_provider = "keyless"', ""].join("\n");
}

/**
 * Gemini CLI exits "Invalid auth method selected." unless settings select API-key auth; keep the user's other settings.
 */
export function geminiSettings(existing: string | null): string {
  let settings: Record<string, unknown> = {};
  if (existing?.trim()) {
    const parsed: unknown = JSON.parse(existing);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) settings = parsed as Record<string, unknown>;
  }
  const security = objectAt(settings, "security");
  const auth = objectAt(security, "auth");
  auth.selectedType = "gemini-api-key";
  // No usage statistics from CI runs (play.googleapis.com), unless the workflow's own settings decided otherwise.
  const privacy = objectAt(settings, "privacy");
  privacy.usageStatisticsEnabled ??= false;
  return `${JSON.stringify(settings, null, 2)}\n`;
}

function objectAt(parent: Record<string, unknown>, key: string): Record<string, unknown> {
  const v = parent[key];
  if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  const fresh: Record<string, unknown> = {};
  parent[key] = fresh;
  return fresh;
}

/** Writes the agents' files; a file that cannot be merged (say, a settings.json with comments) is left alone with a warning. */
export function writeAgentFiles(files: readonly AgentFile[], warn: (m: string) => void): void {
  for (const f of files) {
    const existing = existsSync(f.path) ? readFileSync(f.path, "utf8") : null;
    let content: string;
    try {
      content = f.render(existing);
    } catch (err) {
      warn(`left ${f.path} unchanged: it could not be read as JSON (${(err as Error).message}); set security.auth.selectedType to "gemini-api-key" yourself`);
      continue;
    }
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, content);
  }
}
