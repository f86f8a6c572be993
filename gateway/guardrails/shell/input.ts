// What a command's input stands for when it becomes arguments of another: the listing a `find`/`ls` stage pipes on,
// and the values a loop binds (`for x in …`, `… | while read x`), so the loop's body is analysed as if run directly.
import type { CompoundList } from "unbash";
import { parseArgs } from "./options.js";
import type { SimpleCommand } from "./types.js";
import { UNKNOWN_INPUT } from "./unwrap.js";
import type { VarValue } from "./words.js";

/** find tests that narrow what it lists; without any, it lists everything under its roots. */
const FIND_FILTERS = /^-(i?name|i?path|i?regex|i?wholename|newer\w*|[amc](time|min)|size|user|group|perm|empty|links|inum|samefile|lname|uid|gid|prune)$/;

/** What a command lists when its output is not known but its place is: `find / -type f` → `/*`, `ls ~` → `~/*`. */
export function listingOf(sc: SimpleCommand | undefined): string | undefined {
  // `git ls-files` and `git ls-tree HEAD` without a pathspec list every tracked file of the repository.
  if (sc?.name === "git" && sc.positionals[0] === "ls-files") return sc.positionals.length === 1 ? "*" : undefined;
  if (sc?.name === "git" && sc.positionals[0] === "ls-tree") return sc.positionals.length <= 2 ? "*" : undefined;
  // `rg --files` with no glob, type or path lists every file it does not ignore.
  if (sc?.name === "rg") return sc.flags.has("--files") && sc.positionals.length === 0 && !RG_FILTERS.some((f) => sc.options.has(f)) ? "*" : undefined;
  if (sc?.name === "fd" || sc?.name === "fdfind") return fdListing(sc);
  // `ls *.log`, `ls -d */`: the glob's own matches.
  if (sc?.name === "ls" && /[*?[]/.test(sc.positionals[0] ?? "")) return (sc.positionals[0] ?? "").replace(/^\.\/(?=.)/, "");
  if (sc === undefined || (sc.name !== "find" && sc.name !== "ls")) return undefined;
  const root = (sc.positionals[0] ?? ".").replace(/\/+$/, "") || "/";
  // A negated test (`! -name .git`, `-not -path x`) leaves everything else listed: it does not narrow.
  // With alternatives (`-name .git -prune -o -type f -print`), the last one decides whether everything else is listed.
  const lastOr = sc.args.findLastIndex((a) => a === "-o" || a === "-or");
  const narrowing = (i: number) => i > lastOr && FIND_FILTERS.test(sc.args[i] ?? "") && sc.args[i - 1] !== "!" && sc.args[i - 1] !== "-not";
  const everything = sc.name === "ls" || !sc.args.some((_, i) => narrowing(i));
  // `find . -name .git`: the listed entries end in that name (so deleting them is deleting `.git`).
  const i = sc.name === "find" ? sc.args.findIndex((a, j) => (a === "-name" || a === "-iname") && narrowing(j)) : -1;
  // With `-o` the name is one alternative (`-name a -o -name b`): not what every entry is.
  const named = i >= 0 && lastOr < 0 ? sc.args[i + 1] : undefined;
  const found = everything ? "*" : `…${named !== undefined && !named.includes("/") ? `/${named}` : ""}`;
  if (root === "." || root === "./") return everything ? "*" : `./${found}`;
  return `${root === "/" ? "" : root}/${found}`;
}

const RG_FILTERS = ["-g", "--glob", "--iglob", "-t", "--type"];

/** `fd [pattern] [path]`: everything under path unless a pattern, extension, size or time narrows it. */
function fdListing(sc: SimpleCommand): string {
  // Only fd's own arguments, not those of the command it runs (`-x rm -rf`).
  const exec = sc.args.findIndex((a) => /^(-x|--exec|-X|--exec-batch)$/.test(a));
  const { positionals, options } = parseArgs("fd", exec < 0 ? sc.args : sc.args.slice(0, exec));
  const [pattern, path] = positionals;
  const root = (path ?? ".").replace(/\/+$/, "") || "/";
  const ext = options.get("-e") ?? options.get("--extension");
  const narrowed = (pattern !== undefined && !/^(\.|\^|\.\*|)$/.test(pattern)) || ["-S", "--size", "--changed-within", "--changed-before", "-o", "--owner"].some((o) => options.has(o));
  const found = ext?.length === 1 && !narrowed ? `…/*.${ext[0]}` : ext !== undefined || narrowed ? "…" : "*";
  if (root === "." || root === "./") return found === "*" ? "*" : `./${found}`;
  return `${root === "/" ? "" : root}/${found}`;
}

const AWKS = new Set(["awk", "gawk", "mawk", "nawk"]);

/**
 * The command a `sed` or `awk` stage builds from each input line, for a shell reading it from the pipe, with the line
 * as unknown input: `sed 's/^/rm -rf /'` → `rm -rf $XARGS_INPUT`, `awk '{print "git push origin :" $1}'` → `git push
 * origin :$XARGS_INPUT`. Undefined when the stage does not visibly build one.
 */
export function programTemplate(sc: SimpleCommand | undefined): string | undefined {
  if (sc?.name === "sed") {
    const m = /^s(.)(.*?)\1(.*?)\1[gpiI0-9]*$/s.exec(sc.options.get("-e")?.[0] ?? sc.positionals[0] ?? "");
    const [pattern, repl] = [m?.[2], m?.[3] ?? ""];
    if (pattern === "^") return `${repl}${UNKNOWN_INPUT}`;
    if (pattern === "$") return `${UNKNOWN_INPUT}${repl}`;
    const filled = repl.replace(/&|\\[0-9]/g, UNKNOWN_INPUT);
    return filled !== repl ? filled : undefined;
  }
  if (sc === undefined || !AWKS.has(sc.name)) return undefined;
  const print = /\bprint\s+([^;}]*)/.exec(sc.positionals[0] ?? "")?.[1];
  if (print === undefined) return undefined;
  const parts = [...print.matchAll(/"((?:[^"\\]|\\.)*)"|\$\w+|,/g)].map((t) => (t[1] !== undefined ? t[1].replace(/\\(.)/g, "$1") : t[0] === "," ? " " : UNKNOWN_INPUT));
  return parts.some((p) => p !== UNKNOWN_INPUT && p.trim() !== "") ? parts.join("") : undefined;
}

/** A loop body is analysed once per distinct value up to this many values; past it the loop variable is unknown. */
export const MAX_LOOP_ITEMS = 16;
/** Body walks of all loops of one script together (nested loops multiply); past it loop variables are unknown. */
export const MAX_LOOP_PASSES = 64;

/** `read`'s options that take a value (`-d ''`, `-p prompt`, `-u 3`). */
const READ_VALUE = new Set(["-d", "-p", "-n", "-N", "-t", "-u", "-i", "-a"]);

/** The variables a `while read …` clause assigns from each line (`IFS= read -r a b` → a, b), else undefined. */
export function readNames(clause: CompoundList): string[] | undefined {
  const last = clause.commands.at(-1)?.command;
  if (last?.type !== "Command" || last.name?.value !== "read") return undefined;
  const names: string[] = [];
  const words = last.suffix.filter((s) => s.type === "Word").map((w) => w.value);
  for (let i = 0; i < words.length; i++) {
    const w = words[i] ?? "";
    if (w === "-a") names.push(words[i + 1] ?? "");
    if (READ_VALUE.has(w)) i++;
    else if (!w.startsWith("-")) names.push(w);
  }
  const valid = names.filter((n) => /^[A-Za-z_]\w*$/.test(n));
  return valid.length > 0 ? valid : ["REPLY"];
}

/** One value per line of `stdin` for `read`, or undefined past the bound (then the names are unknown). */
export function readItems(stdin: VarValue): VarValue[] | undefined {
  const lines = [...new Set(stdin.value.split("\n").filter((l) => l.trim() !== ""))];
  return lines.length <= MAX_LOOP_ITEMS ? lines.map((value) => ({ value, markers: stdin.markers })) : undefined;
}

/** `read a b` of one line: a gets the first field, b the rest (IFS whitespace). */
export function splitRead(names: readonly string[], item: VarValue): [string, VarValue][] {
  // A listing's lines are single paths: the first name gets each, the others stay unknown.
  if (names.length === 1 || item.unknown) return names[0] === undefined ? [] : [[names[0], item]];
  const fields = item.value.trim().split(/[ \t]+/);
  return names.map((n, i) => {
    const value = i === names.length - 1 ? fields.slice(i).join(" ") : (fields[i] ?? "");
    return [n, { value, markers: item.markers }];
  });
}
