// What main and post need from the outside world, injected so tests can drive them without a runner.

export interface ExecResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion without echoing its command line; never throws on a non-zero exit. */
export type Exec = (cmd: string, args: readonly string[]) => Promise<ExecResult>;

/** The subset of @actions/core the Action uses. */
export interface Core {
  getIDToken(audience: string): Promise<string>;
  setSecret(secret: string): void;
  exportVariable(name: string, value: string): void;
  setOutput(name: string, value: string): void;
  saveState(name: string, value: string): void;
  addPath(dir: string): void;
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
}

/** The subset of @actions/tool-cache used to install tailscale. */
export interface ToolCache {
  find(tool: string, version: string, arch: string): string;
  downloadTool(url: string): Promise<string>;
  extractTar(file: string): Promise<string>;
  cacheDir(dir: string, tool: string, version: string, arch: string): Promise<string>;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Starts a long-lived program that outlives this step; returns its pid. Output goes to `logFile`. */
export type SpawnDetached = (cmd: string, args: readonly string[], logFile: string) => number;
