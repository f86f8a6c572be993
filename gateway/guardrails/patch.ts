// Paths touched by a Codex apply_patch envelope (`*** Begin Patch` … `*** End Patch`).

const HEADER = /^\*\*\* (?:Add File|Update File|Delete File|Move to): *(.+?)\s*$/gm;

export function patchPaths(patch: string): string[] {
  const out: string[] = [];
  for (const m of patch.matchAll(HEADER)) {
    const p = m[1];
    if (p && !out.includes(p)) out.push(p);
  }
  return out;
}
