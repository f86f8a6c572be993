// What `keyless doctor` reads from tailscaled's LocalAPI (fetched with identity's bounded localApiGet).
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
