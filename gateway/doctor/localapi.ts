// Read-only calls to tailscaled's LocalAPI over its unix socket, for `keyless doctor`.
import http from "node:http";
import { z } from "zod";

/** The subset of ipnstate.Status the doctor reads (tailscale/tailscale ipn/ipnstate). */
export const LocalStatus = z.object({
  Version: z.string().default(""),
  BackendState: z.string(),
  /** false: userspace networking (tailscaled forwards inbound tailnet connections to localhost). */
  TUN: z.boolean().default(false),
  Self: z
    .object({
      DNSName: z.string().default(""),
      HostName: z.string().default(""),
      TailscaleIPs: z.array(z.string()).nullish(),
      Tags: z.array(z.string()).nullish(),
    })
    .nullish(),
});
export type LocalStatus = z.infer<typeof LocalStatus>;

export interface LocalAnswer {
  readonly status: number;
  readonly body: string;
}

export function localApiGet(socketPath: string, path: string, timeoutMs: number): Promise<LocalAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      // tailscaled refuses any other Host, and any Origin or Referer.
      { socketPath, method: "GET", path, headers: { Host: "local-tailscaled.sock" }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          // A status of a large tailnet is a few MB; more than this is not tailscaled.
          if (size > 16 * 1024 * 1024) req.destroy(new Error("LocalAPI answer too large"));
          else chunks.push(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}
