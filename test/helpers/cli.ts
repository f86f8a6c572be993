// The gateway as users run it: `keyless serve` in its own process, on a free loopback port.
import { type ChildProcess, spawn } from "node:child_process";

export async function startCli(configPath: string, extraArgs: readonly string[] = []): Promise<{ child: ChildProcess; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "gateway/cli.ts", "serve", "--config", configPath, "--listen", "127.0.0.1:0", ...extraArgs], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      const m = /serving on (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`gateway exited early (${code}): ${stderr}`)));
  });
  return { child, url, stderr: () => stderr };
}
