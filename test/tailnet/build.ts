// Builds tailnet-lab, tailscaled and tailscale from test/tailnet/lab (one pinned tailscale.com module) into
// test/tailnet/.bin/<hash>, keyed by the module's go.mod, go.sum and the lab's source, so a warm run only stats files.
// A lock directory keeps two test files from building at once; the loser waits for the winner's binaries.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const LAB = join(here, "lab");
const BINARIES = ["tailnet-lab", "tailscaled", "tailscale"] as const;

export interface Binaries {
  readonly lab: string;
  readonly tailscaled: string;
  readonly tailscale: string;
  /** The pinned tailscale.com version from go.mod. */
  readonly version: string;
}

function goBinary(): string {
  for (const candidate of [process.env.KEYLESS_GO, "/usr/local/go/bin/go"]) if (candidate && existsSync(candidate)) return candidate;
  return "go";
}

function buildKey(): string {
  const h = createHash("sha256");
  for (const f of ["go.mod", "go.sum", "main.go", "../build.ts"]) h.update(readFileSync(join(LAB, f)));
  return h.digest("hex").slice(0, 16);
}

export function pinnedVersion(): string {
  const m = /^require tailscale\.com (v\S+)$/m.exec(readFileSync(join(LAB, "go.mod"), "utf8"));
  if (!m?.[1]) throw new Error("test/tailnet/lab/go.mod does not pin tailscale.com");
  return m[1];
}

function runGo(args: string[], outDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(goBinary(), args, { cwd: LAB, env: { ...process.env, GOFLAGS: "-mod=mod", CGO_ENABLED: "0" }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-8000)));
    child.on("error", (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === "ENOENT"
            ? "the real-tailnet tests need Go ≥ 1.26 to build tailscaled: install it at /usr/local/go (or set KEYLESS_GO to the go binary)"
            : `go build: ${err.message}`,
        ),
      ),
    );
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`go build ${outDir} failed (exit ${code}):\n${stderr}`))));
  });
}

function builderAlive(lock: string): boolean {
  const pid = Number(readFileSync(join(lock, "pid"), { encoding: "utf8", flag: "a+" }));
  if (!pid) return Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 5000; // pid not written yet
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Returns the cached binaries, building them first (cold: minutes on 2 cores) if this source has not been built. */
export async function buildTailnet(log: (line: string) => void = () => undefined): Promise<Binaries> {
  const dir = join(here, ".bin", buildKey());
  const paths = { lab: join(dir, BINARIES[0]), tailscaled: join(dir, BINARIES[1]), tailscale: join(dir, BINARIES[2]), version: pinnedVersion() };
  const done = join(dir, ".complete");
  const lock = `${dir}.lock`;
  mkdirSync(dirname(dir), { recursive: true });
  for (;;) {
    if (existsSync(done)) return paths;
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
    } catch {
      // Another process is building; a lock whose builder is gone was left by a killed run.
      if (!builderAlive(lock)) rmSync(lock, { recursive: true, force: true });
      await sleep(500);
      continue;
    }
    try {
      if (existsSync(done)) return paths;
      const started = Date.now();
      log(`building tailnet-lab, tailscaled and tailscale (tailscale.com ${paths.version}) into ${dir}; cold, this takes minutes: run npx tsx test/tailnet/build.ts before the tests`);
      const tmp = `${dir}.tmp`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      // A module build has no VCS stamp ("1.102.5-ERR-BuildInfo"): stamp the pinned version as Tailscale's build does.
      const v = paths.version.replace(/^v/, "");
      const ldflags = `-X tailscale.com/version.longStamp=${v} -X tailscale.com/version.shortStamp=${v}`;
      await runGo(["build", "-ldflags", ldflags, "-o", tmp, ".", "tailscale.com/cmd/tailscaled", "tailscale.com/cmd/tailscale"], dir);
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
      writeFileSync(done, `${new Date().toISOString()}\n`);
      // Builds of older sources are never used again.
      for (const old of readdirSync(dirname(dir))) if (join(dirname(dir), old) !== dir && !old.endsWith(".lock")) rmSync(join(dirname(dir), old), { recursive: true, force: true });
      log(`built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return paths;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

// `npx tsx test/tailnet/build.ts`: build ahead of `npm test` (CI does this so a cold build is not inside a test's time).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildTailnet((l) => console.log(l)).then(
    (b) => console.log(`ready: ${b.tailscaled}`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
