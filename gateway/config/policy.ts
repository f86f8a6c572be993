// The `tailnet_policy` config section: what `keyless policy render` needs to turn config grants into tailnet policy
// grants (the gateway's own tag as `dst`, owners for the tags the grants name).
import { z } from "zod";

const Tag = z.string().regex(/^tag:[A-Za-z0-9][A-Za-z0-9-]*$/, 'expected a tag such as "tag:keyless"');

export const TailnetPolicyConfig = z.strictObject({
  /** The gateway node's tag(s): tailnet grants without `dst` apply to nothing. */
  dst: z.array(Tag).min(1),
  /** Owners written into tagOwners for every tag the grants name (users, groups, autogroup:admin or other tags). */
  tag_owners: z.array(z.string().min(1)).min(1).default(["autogroup:admin"]),
});
export type TailnetPolicyConfig = z.infer<typeof TailnetPolicyConfig>;
