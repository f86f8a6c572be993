// Runs a real agent CLI (installed as a devDependency) headless against a gateway, configured exactly as the Action
// configures a job: its environment and files come from action/agents.ts, in a throwaway HOME and RUNNER_TEMP.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AgentSetup, agentSetup, writeAgentFiles } from "../../action/agents.js";
import type { Agent, Inputs } from "../../action/inputs.js";

export const BIN = {
  claude: fileURLToPath(new URL("../../node_modules/.bin/claude", import.meta.url)),
  codex: fileURLToPath(new URL("../../node_modules/.bin/codex", import.meta.url)),
  gemini: fileURLToPath(new URL("../../node_modules/.bin/gemini", import.meta.url)),
} as const;

export interface Job {
  /** Holds everything below: the files the CLI may write. */
  readonly root: string;
  /** The job's HOME (isolated: the agents' settings, caches and session files land here). */
  readonly home: string;
  /** The working directory the agent runs in (the "checkout"). */
  readonly cwd: string;
  readonly setup: AgentSetup;
  readonly env: Readonly<Record<string, string>>;
}

/**
 * A fresh job for `agent` pointed at `gatewayUrl`. The environment is built from nothing but PATH and what the Action
 * exports, so no key, proxy or setting of the machine running the tests can leak in.
 */
export function newJob(agent: Agent, gatewayUrl: string, extraEnv: Readonly<Record<string, string>> = {}, providerMode: Inputs["providerMode"] = "anthropic"): Job {
  const root = mkdtempSync(join(tmpdir(), `keyless-${agent}-`));
  const home = join(root, "home");
  const runnerTemp = join(root, "runner-temp");
  const cwd = join(root, "work");
  for (const dir of [home, runnerTemp, cwd]) mkdirSync(dir, { recursive: true });
  const setup = agentSetup(gatewayUrl, { agents: [agent], providerMode, awsRegion: "", vertexProjectId: "", vertexRegion: "" }, { runnerTemp, home, presetEnv: {} });
  if (setup.warnings.length > 0) throw new Error(`the Action warned: ${setup.warnings.join("; ")}`);
  writeAgentFiles(setup.files, (m) => {
    throw new Error(m);
  });
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    TMPDIR: runnerTemp,
    LANG: "C.UTF-8",
    TERM: "dumb",
    NO_COLOR: "1",
    CI: "true",
    ...setup.env,
    ...extraEnv,
  };
  return { root, home, cwd, setup, env };
}

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface RunOptions {
  /** Written to stdin, then closed (codex-action passes its prompt so); stdin is closed at once without it. */
  readonly input?: string;
  /** Replaces the job's environment (an action's step env built over it). */
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

/** Runs `bin args` in the job, killed (with its process group) after the timeout. */
export function runCli(bin: string, args: readonly string[], job: Job, options: RunOptions = {}): Promise<CliRun> {
  const { input, env = job.env, timeoutMs = 25_000 } = options;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: job.cwd, env, stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"], detached: true });
    child.stdin?.end(input);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on("data", (b: Buffer) => out.push(b));
    child.stderr!.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    }, timeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), ms: Date.now() - started });
    });
  });
}

/** Parses JSON Lines output (stream-json, `--json` events), skipping lines that are not JSON objects. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l.trim().startsWith("{"))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}
