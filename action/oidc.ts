// GitHub OIDC tokens: one per audience (Tailscale, then the gateway), masked the moment they exist.
import { type RunContext, forkOf } from "./context.js";
import type { Core } from "./deps.js";
import { ActionError } from "./errors.js";

export async function getOidcToken(core: Pick<Core, "getIDToken" | "setSecret">, audience: string, forWhat: string): Promise<string> {
  let token: string;
  try {
    token = await core.getIDToken(audience);
  } catch (err) {
    // @actions/core wraps its errors as "Error message: …"; keep just the cause.
    const cause = (err as Error).message.replace(/^Error message:\s*/, "").replace(/\s+/g, " ").trim();
    throw new ActionError(`could not get a GitHub OIDC token for ${forWhat} (audience "${audience}"): ${cause}`);
  }
  core.setSecret(token);
  return token;
}

/** Why this job has no OIDC token and what to do about it. */
export function missingOidcMessage(ctx: Pick<RunContext, "payload" | "repository" | "actor">): string {
  const fork = forkOf(ctx);
  const why = fork
    ? `This run is a pull request from the fork ${fork}; GitHub gives such runs no OIDC token.`
    : ctx.actor === "dependabot[bot]"
      ? "Dependabot runs get no OIDC token."
      : "The job lacks the `id-token: write` permission.";
  return (
    `keyless needs a GitHub OIDC token to join the tailnet and register the job, but this job cannot get one. ${why} ` +
    "Add `permissions: { id-token: write, contents: read }` to the job; for runs that can never have a token " +
    "(forks, Dependabot) set `on-missing-oidc: skip` to continue without the gateway."
  );
}
