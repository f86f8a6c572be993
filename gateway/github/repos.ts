// The admin's repository → tailnet tag mapping: which nodes may open CI sessions for which repository.
import type { RepoMapping } from "../config/github.js";
import type { Identity } from "../identity/types.js";
import { deriveTag } from "../../src/tags.js";
import type { ActionsClaims } from "./oidc.js";

export interface MappingMatch {
  readonly pattern: string;
  readonly mapping: RepoMapping;
}

export type RepoCheck =
  | { readonly ok: true; readonly pattern: string; readonly mapping: RepoMapping; readonly tags: readonly string[] }
  | { readonly ok: false; readonly code: string; readonly message: string };

/**
 * Finds the mapping for a repository: a mapping pinned to its id first (it follows renames), then the exact name,
 * then `owner/*`. Names compare case-insensitively, as GitHub's do.
 */
export function findMapping(repos: Readonly<Record<string, RepoMapping>>, repository: string, repositoryId: string): MappingMatch | null {
  const entries = Object.entries(repos);
  const byId = entries.find(([, m]) => m.repository_id === repositoryId);
  if (byId) return { pattern: byId[0], mapping: byId[1] };
  const name = repository.toLowerCase();
  const exact = entries.find(([p]) => p.toLowerCase() === name);
  if (exact) return { pattern: exact[0], mapping: exact[1] };
  const owner = name.split("/")[0];
  const glob = entries.find(([p]) => p.toLowerCase() === `${owner}/*`);
  return glob ? { pattern: glob[0], mapping: glob[1] } : null;
}

/** The tags a mapping requires for one repository, templates (`<owner>`, `<repo>`) expanded. */
export function requiredTags(mapping: RepoMapping, repository: string): string[] {
  return mapping.tags.map((t) => (t.includes("<") ? deriveTag(t, repository) : t));
}

/** Checks that the verified token's repository is mapped, its ids match any pins, and the caller carries the tags. */
export function checkRepository(repos: Readonly<Record<string, RepoMapping>>, claims: ActionsClaims, who: Identity): RepoCheck {
  const mapped = checkMapping(repos, claims);
  if (!mapped.ok) return mapped;
  const { pattern, tags } = mapped;
  if (who.nodeId === null) {
    return { ok: false, code: "not_a_tailnet_node", message: `CI sessions are bound to a tailnet node; caller ${who.principal} (${who.addr}) is none` };
  }
  const missing = tags.filter((t) => !who.tags.includes(t));
  if (missing.length > 0) {
    const has = who.tags.length > 0 ? who.tags.join(", ") : "no tags";
    return {
      ok: false,
      code: "node_tags",
      message: `node ${who.nodeName ?? who.nodeId} lacks ${missing.join(", ")}, required for ${claims.repository} by github.repos["${pattern}"] (it has ${has})`,
    };
  }
  return mapped;
}

/** The mapping of the token's repository, with its id pins checked and its tags expanded. */
export function checkMapping(repos: Readonly<Record<string, RepoMapping>>, claims: ActionsClaims): RepoCheck {
  const { repository } = claims;
  const match = findMapping(repos, repository, claims.repository_id);
  if (!match) {
    return { ok: false, code: "repo_not_mapped", message: `repository ${repository} is not in github.repos; no node may open sessions for it` };
  }
  const { pattern, mapping } = match;
  if (mapping.repository_id !== undefined && mapping.repository_id !== claims.repository_id) {
    return {
      ok: false,
      code: "repo_id_mismatch",
      message: `repository ${repository} has id ${claims.repository_id}, but github.repos["${pattern}"] is pinned to id ${mapping.repository_id} (deleted and recreated?)`,
    };
  }
  if (mapping.owner_id !== undefined && mapping.owner_id !== claims.repository_owner_id) {
    return {
      ok: false,
      code: "owner_id_mismatch",
      message: `owner ${claims.repository_owner} has id ${claims.repository_owner_id}, but github.repos["${pattern}"] is pinned to owner id ${mapping.owner_id}`,
    };
  }
  try {
    return { ok: true, pattern, mapping, tags: requiredTags(mapping, repository) };
  } catch (err) {
    return { ok: false, code: "repo_tag_template", message: (err as Error).message };
  }
}
