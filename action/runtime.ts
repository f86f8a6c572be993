// The real world behind the injected deps: @actions/core, child processes, tool-cache, fetch and timers.
import { spawn } from "node:child_process";
import { accessSync, closeSync, constants, mkdirSync, openSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import * as core from "@actions/core";
import * as tc from "@actions/tool-cache";
import type { Clock, Core, Exec, SpawnDetached, ToolCache } from "./deps.js";
import { ActionError } from "./errors.js";

export const runnerCore: Core = {
  getIDToken: (audience) => core.getIDToken(audience),
  setSecret: (s) => core.setSecret(s),
  exportVariable: (n, v) => core.exportVariable(n, v),
  setOutput: (n, v) => core.setOutput(n, v),
  saveState: (n, v) => core.saveState(n, v),
  addPath: (d) => core.addPath(d),
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  debug: (m) => core.debug(m),
};

export const toolCache: ToolCache = {
  find: (tool, version, arch) => tc.find(tool, version, arch),
  downloadTool: (url) => tc.downloadTool(url),
  extractTar: (file) => tc.extractTar(file),
  cacheDir: (dir, tool, version, arch) => tc.cacheDir(dir, tool, version, arch),
};

export const clock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Collects output without echoing it: command lines can carry tokens. A missing program is exit code 127. */
export const exec: Exec = (cmd, args) =>
  new Promise((resolve) => {
    const child = spawn(cmd, [...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", (err) => resolve({ exitCode: 127, stdout, stderr: `${stderr}${err.message}` }));
    child.on("close", (code) => resolve({ exitCode: code ?? 1, stdout, stderr }));
  });

export const spawnDetached: SpawnDetached = (cmd, args, logFile) => {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, "a");
  try {
    const child = spawn(cmd, [...args], { detached: true, stdio: ["ignore", fd, fd] });
    child.on("error", () => {}); // Reported below through the missing pid.
    child.unref();
    if (child.pid === undefined) throw new ActionError(`could not start ${cmd}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
};

export async function which(tool: string): Promise<string | null> {
  const exts = process.platform === "win32" ? [".exe", ".cmd", ""] : [""];
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = join(dir, tool + ext);
      try {
        accessSync(candidate, constants.X_OK);
        return candidate;
      } catch {
        // Not here; keep looking.
      }
    }
  }
  return null;
}

export async function writeSummary(markdown: string): Promise<void> {
  await core.summary.addRaw(markdown, true).write();
}
