// Tailscale tag derivation shared by the Action (what it advertises) and the gateway (what repos map to).

/** Tailscale tag names: `tag:` then a letter, then letters, digits and dashes. */
const TAG_BODY = /^[a-z][a-z0-9-]*$/;

export function isValidTag(tag: string): boolean {
  return tag.startsWith("tag:") && TAG_BODY.test(tag.slice(4)) && tag.length <= 4 + 63;
}

/** Lower-cases, maps every other character to '-', collapses and trims dashes, and keeps at most `max` chars. */
export function sanitizeTagPart(value: string, max = 63): string {
  const cleaned = value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^-+|-+$/g, "");
  return cleaned.slice(0, max).replace(/-+$/g, "");
}

/**
 * Expands a tag template such as `tag:ci-<owner>-<repo>` for `owner/repo` into a valid tag.
 * Throws when the result is not a valid Tailscale tag, naming the template.
 */
export function deriveTag(template: string, repository: string): string {
  const [owner = "", repo = ""] = repository.split("/");
  if (!template.startsWith("tag:")) throw new Error(`tag template "${template}" must start with "tag:"`);
  const body = template
    .slice(4)
    .replaceAll("<owner>", owner)
    .replaceAll("<repo>", repo)
    .replaceAll("<repository>", repository);
  const sanitized = sanitizeTagPart(body);
  const tag = `tag:${/^[a-z]/.test(sanitized) ? sanitized : `r-${sanitized}`}`.slice(0, 67).replace(/-+$/, "");
  if (!isValidTag(tag)) throw new Error(`tag template "${template}" gives "${tag}" for ${repository}, not a valid Tailscale tag`);
  return tag;
}

export const DEFAULT_TAG_TEMPLATE = "tag:ci-<owner>-<repo>";
