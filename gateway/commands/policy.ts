// `keyless policy render|explain`, as a function of its arguments and environment so tests run it in-process.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { ConfigError, type Env, loadConfigFile } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { explain, formatExplanation } from "./policy-explain.js";
import { RenderError, formatPolicy, renderPolicy } from "./policy-render.js";

export const POLICY_USAGE = `  keyless policy render [--config FILE] [--dst TAG]... [--tag-owner OWNER]...
  keyless policy explain --principal WHO --model [PROVIDER/]MODEL [--config FILE] [--group GROUP]... [--node ID]
                         [--repo OWNER/REPO] [--pr N] [--workflow NAME] [--run ID] [--capmap FILE] [--json]`;

export interface CommandIo {
  readonly env: Env;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** The config for offline commands: unset ${ENV} references (provider keys) read as empty rather than failing. */
function loadForPolicy(path: string, env: Env): Config {
  const lenient = new Proxy({} as Record<string, string | undefined>, { get: (_, name) => (typeof name === "string" ? (env[name] ?? "") : undefined) });
  return loadConfigFile(path, lenient).config;
}

/** Returns the exit code. */
export function runPolicyCommand(args: readonly string[], io: CommandIo): number {
  const [sub, ...rest] = args;
  const defaultConfig = io.env.KEYLESS_CONFIG ?? "keyless.jsonc";
  try {
    if (sub === "render") {
      const { values } = parseArgs({
        args: [...rest],
        options: { config: { type: "string", short: "c" }, dst: { type: "string", multiple: true }, "tag-owner": { type: "string", multiple: true } },
      });
      const path = values.config ?? defaultConfig;
      const rendered = renderPolicy(loadForPolicy(path, io.env), { dst: values.dst, tagOwners: values["tag-owner"] });
      for (const w of rendered.warnings) io.err(`keyless policy render: warning: ${w}\n`);
      io.out(formatPolicy(rendered, path));
      return 0;
    }
    if (sub === "explain") {
      const { values } = parseArgs({
        args: [...rest],
        options: {
          config: { type: "string", short: "c" },
          principal: { type: "string" },
          model: { type: "string" },
          group: { type: "string", multiple: true },
          node: { type: "string" },
          repo: { type: "string" },
          pr: { type: "string" },
          workflow: { type: "string" },
          run: { type: "string" },
          capmap: { type: "string" },
          json: { type: "boolean" },
        },
      });
      if (!values.principal || !values.model) {
        io.err(`keyless policy explain: --principal and --model are required\n${POLICY_USAGE}\n`);
        return 2;
      }
      const session =
        values.repo || values.pr || values.workflow || values.run
          ? { id: "explain", repository: values.repo ?? "-", repositoryId: "-", prNumber: values.pr ? Number(values.pr) : null, workflow: values.workflow ?? "-", runId: values.run ?? "-" }
          : null;
      const capMap = values.capmap ? (JSON.parse(readFileSync(values.capmap, "utf8")) as Record<string, unknown[]>) : undefined;
      const result = explain(loadForPolicy(values.config ?? defaultConfig, io.env), {
        principal: values.principal,
        model: values.model,
        groups: values.group,
        nodeId: values.node,
        session,
        capMap,
      });
      io.out(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatExplanation(result));
      return 0;
    }
    io.err(`usage:\n${POLICY_USAGE}\n`);
    return 2;
  } catch (err) {
    if (err instanceof ConfigError) io.err(`keyless: invalid config:\n${err.problems.map((p) => `  ${p}`).join("\n")}\n`);
    else if (err instanceof RenderError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) io.err(`keyless policy ${sub}: ${(err as Error).message}\n`);
    else throw err;
    return err instanceof ConfigError ? 1 : 2;
  }
}
