// Files a simple command reads and writes, from its redirections and from what common programs do with their
// arguments. Paths are normalized so rules can say `~/.ssh/…` regardless of how home was spelled.
import type { ParsedArgs } from "./options.js";
import type { RedirectInfo } from "./types.js";

/** `~` for home (`$HOME`, `/home/<u>`, `/Users/<u>`, `/root`), no `./` prefix, no trailing slash. */
export function normalizePath(raw: string): string {
  let p = raw.trim();
  p = p.replace(/^\$\{?HOME\}?(?=\/|$)/, "~");
  p = p.replace(/^\/(?:home|Users)\/[^/]+(?=\/|$)/, "~").replace(/^\/root(?=\/|$)/, "~");
  p = p.replace(/\/{2,}/g, "/");
  while (p.startsWith("./") && p.length > 2) p = p.slice(2);
  if (p === "./") p = ".";
  if (p.length > 1 && p.endsWith("/")) p = p.slice(0, -1);
  return p;
}

const READ_ALL = new Set(["cat", "tac", "less", "more", "head", "tail", "nl", "base64", "xxd", "od", "hexdump", "strings",
  "bat", "view", "gpg", "source", ".", "tar", "zip", "7z", "gzip", "bzip2", "xz", "md5sum", "sha256sum",
  "shasum", "file", "stat", "diff", "cmp", "vim", "vi", "nano", "emacs", "iconv", "sqlite3"]);
const READ_BUT_LAST = new Set(["cp", "scp", "rsync", "mv", "install", "sftp"]);
const READ_AFTER_PATTERN = new Set(["grep", "egrep", "fgrep", "rg", "ag", "ack", "jq", "awk"]);
const DELETES = new Set(["rm", "unlink", "shred", "rmdir", "truncate", "touch"]);
const WRITE_LAST = new Set(["cp", "install", "ln", "rsync"]);

const NOT_FILES = /^(\/dev\/(null|stdout|stderr|stdin|fd\/\d+|tty)|-|\d+|&\d+)$/;
const REMOTE = /^(s3|gs|az|https?|ftp|ssh):\/\/|^[\w.-]+@[\w.-]+:|^[\w-]+(\.[\w-]+)+:\//;

function files(list: readonly string[]): string[] {
  return list.filter((p) => p !== "" && !NOT_FILES.test(p) && !REMOTE.test(p)).map(normalizePath);
}

/** The file after `@` in curl's `-d @file` / `-F name=@file;type=…` (not `@-`, stdin). */
function atFile(v: string): string | undefined {
  const m = /^(?:[^=@]*=)?[@<]([^;]+)/.exec(v);
  return m?.[1] && m[1] !== "-" ? m[1] : undefined;
}

export function effects(
  name: string,
  parsed: ParsedArgs,
  redirects: readonly RedirectInfo[],
): { reads: string[]; writes: string[] } {
  const pos = parsed.positionals;
  const opt = (...keys: string[]): string[] => keys.flatMap((k) => parsed.options.get(k) ?? []);
  const reads: string[] = [];
  const writes: string[] = [];
  for (const r of redirects) {
    if (r.op === "<" || r.op === "<>") reads.push(r.target);
    if (r.op === ">" || r.op === ">>" || r.op === ">|" || r.op === "&>" || r.op === "&>>" || r.op === "<>") {
      writes.push(r.target);
    } else if (r.op === ">&" && !/^\d+$|^-$/.test(r.target)) writes.push(r.target);
  }
  if (READ_ALL.has(name)) reads.push(...pos);
  if (READ_BUT_LAST.has(name)) reads.push(...pos.slice(0, -1));
  if (READ_AFTER_PATTERN.has(name)) {
    const patternGiven = parsed.options.has("-e") || parsed.options.has("-f") || parsed.options.has("--regexp");
    reads.push(...(patternGiven && name !== "jq" ? pos : pos.slice(1)));
  }
  if (name === "aws" || name === "gsutil" || name === "gcloud") reads.push(...pos.slice(2));
  if (name === "gh" && pos[0] === "gist") reads.push(...pos.slice(2));
  if (name === "curl") {
    for (const v of opt("-d", "--data", "--data-binary", "--data-urlencode", "--data-ascii", "-F", "--form", "--json")) {
      const f = atFile(v);
      if (f) reads.push(f);
    }
    reads.push(...opt("-T", "--upload-file", "-K", "--config"));
    writes.push(...opt("-o", "--output"));
    // -O / --remote-name: the file is named after the URL's last path segment.
    if (parsed.flags.has("-O") || parsed.flags.has("--remote-name")) {
      for (const u of pos.filter((p) => /^(https?|ftp):\/\/[^/]+\/./.test(p))) writes.push(u.replace(/[?#].*$/, "").split("/").pop() ?? "");
    }
  }
  if (name === "wget") {
    reads.push(...opt("--post-file", "--body-file"));
    writes.push(...opt("-O", "--output-document"));
  }
  if (name === "openssl") {
    reads.push(...pos.slice(1), ...opt("-in", "-key", "-inkey", "-CAkey", "-cert", "-passin", "-certfile"));
    writes.push(...opt("-out", "-keyout"));
  }
  if (name === "tee") writes.push(...pos);
  if (name === "mv") writes.push(...pos);
  if (WRITE_LAST.has(name) && pos.length >= 2) writes.push(pos[pos.length - 1] ?? "");
  if (DELETES.has(name)) writes.push(...pos);
  if (name === "dd") {
    for (const a of pos) {
      if (a.startsWith("of=")) writes.push(a.slice(3));
      if (a.startsWith("if=")) reads.push(a.slice(3));
    }
  }
  if ((name === "sed" || name === "perl") && [...parsed.flags].some((f) => /^-i|^--in-place/.test(f))) {
    const scriptGiven = parsed.options.has("-e") || parsed.options.has("--expression") || name === "perl";
    writes.push(...(scriptGiven ? pos : pos.slice(1)));
  }
  return { reads: files(reads), writes: files(writes) };
}
