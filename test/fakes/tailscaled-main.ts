// Entry point of tailscaled-process.ts: serves the peers in KEYLESS_FAKE_PEERS and prints its socket path.
import { z } from "zod";
import { type PeerSpec, startFakeTailscaled } from "./tailscaled.js";

const Peer = z.strictObject({
  login: z.string().optional(),
  tags: z.array(z.string()).optional(),
  nodeId: z.string().optional(),
  expired: z.boolean().optional(),
  name: z.string().optional(),
  groups: z.array(z.string()).optional(),
  capMap: z.record(z.string(), z.array(z.unknown())).optional(),
}) satisfies z.ZodType<PeerSpec>;

const peers = z.record(z.string(), Peer).parse(JSON.parse(process.env.KEYLESS_FAKE_PEERS ?? "{}"));
const fake = await startFakeTailscaled(peers);
process.stdout.write(`socket ${fake.socketPath}\n`);
process.on("SIGTERM", () => void fake.close().then(() => process.exit(0)));
