// Line diffs as the editor shows them: added lines green, removed red, hunk headers muted. Built from text nodes only.
import { structuredPatch } from "diff";
import { el } from "./dom.js";

const KIND: Readonly<Record<string, string>> = { "+": "add", "-": "del", "@": "hunk" };

/** Renders lines that start with "+", "-", " " or "@@" (a unified diff's, or the audit log's). */
export function diffBlock(lines: readonly string[], label: string): HTMLElement {
  // Focusable: a scrolling region must be reachable from the keyboard.
  return el("pre", { class: "diff", attrs: { tabindex: 0, "aria-label": label } }, ...lines.map((line) => el("span", { class: KIND[line[0] ?? ""] ?? "ctx", text: `${line}\n` })));
}

/** The unified diff from `before` to `after` (three lines of context), or null when they are equal. */
export function fileDiff(before: string, after: string, label: string): HTMLElement | null {
  if (before === after) return null;
  const patch = structuredPatch("before", "after", before, after, "", "", { context: 3 });
  const lines = patch.hunks.flatMap((h) => [`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, ...h.lines]);
  return diffBlock(lines, label);
}

/** Counts of lines added and removed. */
export function changeCount(before: string, after: string): { added: number; removed: number } {
  const patch = structuredPatch("a", "b", before, after, "", "", { context: 0 });
  const lines = patch.hunks.flatMap((h) => h.lines);
  return { added: lines.filter((l) => l.startsWith("+")).length, removed: lines.filter((l) => l.startsWith("-")).length };
}
