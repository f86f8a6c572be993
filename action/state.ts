// What main leaves for post (GITHUB_STATE, read back as STATE_* variables): each key is written as soon as it is true,
// so post undoes exactly what main got done, even when main failed half way.
import { z } from "zod";

export const STATE_KEYS = ["gateway", "session_id", "session_token", "proxy_pid", "tailscale", "tailscaled", "sudo", "joined", "tailscaled_pid"] as const;
export type StateKey = (typeof STATE_KEYS)[number];

const pid = z
  .string()
  .regex(/^\d+$/)
  .transform(Number)
  .optional()
  .catch(undefined);

export const PostState = z.object({
  gateway: z.string().optional(),
  session_id: z.string().optional(),
  session_token: z.string().optional(),
  proxy_pid: pid,
  tailscale: z.string().default("tailscale"),
  tailscaled: z.string().default("tailscaled"),
  sudo: z.string().default(""),
  joined: z.literal("true").optional().catch(undefined),
  tailscaled_pid: pid,
});
export type PostState = z.infer<typeof PostState>;

/** `get` is core.getState; empty values count as absent. */
export function readState(get: (key: string) => string): PostState {
  const raw = Object.fromEntries(STATE_KEYS.map((k) => [k, get(k) || undefined]));
  return PostState.parse(raw);
}
