// The running config and its file: reload on SIGHUP and on change (fs.watch, debounced), update through the API with
// optimistic concurrency (the hash the editor read), atomic writes, an audit row per change. An invalid new config
// never replaces the running one: the error is logged and kept for /api/config/status.
import { type FSWatcher, closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, watch, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { GrantValue, configGrants, grantCapabilities } from "./grants.js";
import { ConfigError, type Env, type LoadedConfig, hashConfigText, parseConfigText } from "./load.js";
import type { Config } from "./schema.js";
import { lineDiff, literalSecrets, redact } from "./text.js";

export type ConfigChangeSource = "api" | "sighup" | "watch";

/** Where applied changes are recorded (the store's config audit); config/ names the shape so it needs no store. */
export interface ConfigAuditSink {
  record(change: {
    ts: number;
    principal: string | null;
    source: ConfigChangeSource;
    old_hash: string;
    new_hash: string;
    diff: string;
    /** The text applied, for restoring it; null when it holds literal credentials, which are never stored. */
    text: string | null;
  }): Promise<void>;
}

/** Sections read once at startup: a reload changes them in the file only. */
const RESTART_ONLY = ["listen", "identity", "database", "quota_store", "prices"] as const satisfies readonly (keyof Config)[];

export interface ReloadStatus {
  readonly at: string;
  readonly source: ConfigChangeSource;
  readonly ok: boolean;
  readonly hash: string | null;
  readonly problems: readonly string[];
}

export type ConfigRefusal = {
  readonly ok: false;
  readonly status: 400 | 409 | 500;
  readonly code: "stale_hash" | "invalid_config" | "admin_lockout" | "literal_secrets" | "write_failed";
  readonly message: string;
  readonly problems: readonly string[];
};

export type ConfigAccepted = {
  readonly ok: true;
  readonly loaded: LoadedConfig;
  /** Sections that changed but take effect only after a restart. */
  readonly restartRequired: readonly string[];
};

/** Returns why `next` must not be applied (e.g. it would lock the editing admin out), or null. */
export type ConfigGuard = (next: Config) => string | null;

export interface LiveConfigOptions {
  readonly path: string;
  readonly initial: LoadedConfig;
  readonly apply: (next: LoadedConfig) => void;
  readonly audit: ConfigAuditSink;
  readonly env?: Env;
  readonly log?: (message: string) => void;
  readonly debounceMs?: number;
  readonly now?: () => number;
}

export class LiveConfig {
  private running: LoadedConfig;
  private loadedAt: number;
  private last: ReloadStatus | null = null;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly env: Env;
  private readonly now: () => number;
  private readonly log: (message: string) => void;

  constructor(private readonly options: LiveConfigOptions) {
    this.running = options.initial;
    this.env = options.env ?? process.env;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? ((m) => console.error(m));
    this.loadedAt = this.now();
  }

  get path(): string {
    return this.options.path;
  }

  current(): LoadedConfig {
    return this.running;
  }

  /** The file as it is on disk now (it may differ from the running config after a failed reload). */
  readFile(): { text: string; hash: string } {
    const text = readFileSync(this.options.path, "utf8");
    return { text, hash: hashConfigText(text) };
  }

  status() {
    let disk: string | null = null;
    try {
      disk = this.readFile().hash;
    } catch {
      // Reported as null: the file is missing or unreadable.
    }
    return {
      path: this.options.path,
      hash: this.running.hash,
      loaded_at: new Date(this.loadedAt).toISOString(),
      disk_hash: disk,
      in_sync: disk === this.running.hash,
      last_reload: this.last,
    };
  }

  /** Parses and checks text without applying it. */
  validate(text: string, guard?: ConfigGuard): ConfigAccepted | ConfigRefusal {
    const secrets = literalSecrets(text);
    if (secrets.length > 0) {
      return refusal(400, "literal_secrets", "the config holds credentials written literally; use ${ENV} references", secrets.map((s) => `${s.path}: literal credential`));
    }
    let loaded: LoadedConfig;
    try {
      loaded = parseConfigText(text, this.env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return refusal(400, "invalid_config", "the config is invalid", err.problems);
    }
    const blocked = lostAdmin(this.running.config, loaded.config) ?? guard?.(loaded.config);
    if (blocked) return refusal(400, "admin_lockout", blocked, [blocked]);
    return { ok: true, loaded, restartRequired: this.restartRequired(loaded.config) };
  }

  /** The API's write: refused unless `expectedHash` is the file's current hash; then written atomically and applied. */
  update(text: string, expectedHash: string, principal: string, guard: ConfigGuard): ConfigAccepted | ConfigRefusal {
    let disk: { text: string; hash: string };
    try {
      disk = this.readFile();
    } catch (err) {
      return refusal(500, "write_failed", `cannot read ${this.options.path}: ${(err as Error).message}`, []);
    }
    if (disk.hash !== expectedHash) {
      return refusal(409, "stale_hash", `the config changed since it was read (hash ${expectedHash.slice(0, 12)}…, now ${disk.hash.slice(0, 12)}…); read it again and reapply the edit`, []);
    }
    const checked = this.validate(text, guard);
    if (!checked.ok) return checked;
    try {
      writeAtomically(this.options.path, text);
    } catch (err) {
      return refusal(500, "write_failed", `cannot write ${this.options.path}: ${(err as Error).message}`, []);
    }
    this.swap(checked.loaded, "api", principal, disk.text);
    return checked;
  }

  /** Reloads the file (SIGHUP, file change). Same text as running: nothing happens. */
  reload(source: ConfigChangeSource): ConfigAccepted | ConfigRefusal | { ok: true; unchanged: true } {
    let text: string;
    try {
      text = this.readFile().text;
    } catch (err) {
      return this.failed(source, null, [`cannot read ${this.options.path}: ${(err as Error).message}`]);
    }
    const hash = hashConfigText(text);
    if (hash === this.running.hash) return { ok: true, unchanged: true };
    let loaded: LoadedConfig;
    try {
      loaded = parseConfigText(text, this.env);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return this.failed(source, hash, err.problems);
    }
    const lockout = lostAdmin(this.running.config, loaded.config);
    if (lockout) return this.failed(source, hash, [lockout]);
    const restartRequired = this.restartRequired(loaded.config);
    this.swap(loaded, source, null, this.running.text);
    return { ok: true, loaded, restartRequired };
  }

  /** Watches the file's directory, not the file: editors and ConfigMaps replace files by rename. */
  watch(): void {
    if (this.watcher) return;
    const debounceMs = this.options.debounceMs ?? 250;
    try {
      const name = basename(this.options.path);
      this.watcher = watch(dirname(this.options.path), { persistent: false }, (_event, filename) => {
        // The file itself, or Kubernetes' ConfigMap symlink swap ("..data"); not the database beside it.
        if (filename !== null && filename !== name && !filename.startsWith("..")) return;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.timer = null;
          this.reload("watch");
        }, debounceMs);
        this.timer.unref();
      });
      this.watcher.on("error", (err) => this.log(`keyless: config watch failed (SIGHUP still reloads): ${err.message}`));
    } catch (err) {
      this.log(`keyless: cannot watch ${this.options.path} (SIGHUP still reloads): ${(err as Error).message}`);
    }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = null;
  }

  private restartRequired(next: Config): string[] {
    return RESTART_ONLY.filter((key) => JSON.stringify(next[key]) !== JSON.stringify(this.running.config[key]));
  }

  private swap(next: LoadedConfig, source: ConfigChangeSource, principal: string | null, oldText: string): void {
    const restart = this.restartRequired(next.config);
    const secrets = [...literalSecrets(oldText), ...literalSecrets(next.text)];
    const previous = this.running;
    this.running = next;
    this.loadedAt = this.now();
    this.options.apply(next);
    this.last = { at: new Date(this.loadedAt).toISOString(), source, ok: true, hash: next.hash, problems: [] };
    void this.options.audit.record({
      ts: this.loadedAt,
      principal,
      source,
      old_hash: previous.hash,
      new_hash: next.hash,
      diff: redact(lineDiff(oldText, next.text), secrets),
      text: literalSecrets(next.text).length === 0 ? next.text : null,
    });
    const who = principal ? ` by ${principal}` : "";
    this.log(`keyless: config ${next.hash.slice(0, 12)} applied (${source}${who})${restart.length ? `; restart to apply ${restart.join(", ")}` : ""}`);
    for (const warning of next.warnings) this.log(`keyless: config warning: ${warning}`);
  }

  private failed(source: ConfigChangeSource, hash: string | null, problems: readonly string[]): ConfigRefusal {
    this.last = { at: new Date(this.now()).toISOString(), source, ok: false, hash, problems };
    this.log(`keyless: config reload (${source}) failed, still running ${this.running.hash.slice(0, 12)}:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    return refusal(400, "invalid_config", "the config file is invalid; the running config was kept", problems);
  }
}

function assignsAdmin(config: Config): boolean {
  if (!config.config_grants) return false;
  const capabilities = grantCapabilities(config);
  return configGrants(config).some((g) => capabilities.some((cap) => (g.app[cap] ?? []).some((v) => GrantValue.safeParse(v).data?.role === "admin")));
}

/**
 * Refuses a change that removes the last config grant assigning role admin (Aperture: "no grant in grants assigns
 * role:admin"). Configs whose admins come from the tailnet policy (none in the file, or config_grants false) pass;
 * the API additionally checks that the editing admin keeps the role.
 */
function lostAdmin(running: Config, next: Config): string | null {
  if (!next.config_grants || !assignsAdmin(running) || assignsAdmin(next)) return null;
  return "no grant in grants assigns role admin: the change would leave the gateway without an admin";
}

function refusal(status: ConfigRefusal["status"], code: ConfigRefusal["code"], message: string, problems: readonly string[]): ConfigRefusal {
  return { ok: false, status, code, message, problems };
}

/** Write to a temporary file beside the target, flush it, rename over: readers see the old file or the new, never half. */
export function writeAtomically(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  let mode = 0o600;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    // A new file: owner-only.
  }
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
}
