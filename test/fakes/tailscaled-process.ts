// The fake tailscaled LocalAPI in a process of its own: under hundreds of new connections at once, WhoIs answers must
// not wait on the test's own busy event loop (tailscaled is another process too).
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { PeerSpec } from "./tailscaled.js";

export interface FakeTailscaledProcess {
  readonly socketPath: string;
  close(): Promise<void>;
}

const MAIN = fileURLToPath(new URL("./tailscaled-main.ts", import.meta.url));

export async function startFakeTailscaledProcess(peers: Readonly<Record<string, PeerSpec>>): Promise<FakeTailscaledProcess> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", MAIN], {
    env: { ...process.env, KEYLESS_FAKE_PEERS: JSON.stringify(peers) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const socketPath = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("the fake tailscaled process did not start within 30 s")), 30_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /socket (\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the fake tailscaled process exited (${code}) before it listened`));
    });
  });
  return {
    socketPath,
    async close() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}
