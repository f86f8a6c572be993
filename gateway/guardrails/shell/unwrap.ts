// Prefix commands that run another command (sudo, env, timeout, xargs, …) and commands that carry a nested
// program (bash -c, su -c, ssh host '…', docker exec, find -exec, eval, alias, trap).
import type { Marker } from "./types.js";

export interface Arg {
  readonly value: string;
  readonly known: boolean;
  /** Quotes/escapes in the word. */
  readonly quoted?: boolean;
  readonly ansiC?: boolean;
  /** Came from a variable assigned earlier in the script. */
  readonly fromVar?: boolean;
  /** Built with a rewriting parameter expansion (`${x:0:0}rm`). */
  readonly trick?: boolean;
  /** How the value was obtained when it was decoded (base64, printf escapes, …). */
  readonly markers?: readonly Marker[];
}

export interface NestedScript {
  readonly text: string;
  readonly known: boolean;
  readonly marker: Marker;
  readonly markers?: readonly Marker[];
  /** `sh -c 'script' $0 $1 …`: the arguments the script sees as its positional parameters, $0 first. */
  readonly params?: readonly Arg[];
}

export function basename(p: string): string {
  const i = p.lastIndexOf("/");
  return i >= 0 ? p.slice(i + 1) : p;
}

interface WrapperSpec {
  /** Options that consume the next argument. */
  readonly value: readonly string[];
  /** Positional arguments to skip before the command (timeout DURATION, chroot DIR). */
  readonly skip?: number;
  /** Accepts NAME=VALUE assignments before the command. */
  readonly assigns?: boolean;
  /** Options after which the wrapper does not run a command (`command -v`). */
  readonly noExec?: readonly string[];
}

const WRAPPERS: Readonly<Record<string, WrapperSpec>> = {
  sudo: {
    value: ["-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T", "--user", "--group", "--host", "--prompt",
      "--close-from", "--chdir", "--role", "--type", "--other-user", "--command-timeout"],
    noExec: ["-l", "--list", "-v", "--validate", "-k", "-K", "-e", "--edit"],
    assigns: true,
  },
  doas: { value: ["-u", "-C"], assigns: true },
  pkexec: { value: ["--user"] },
  runuser: { value: ["-u", "-g", "-G", "--user", "--group"] },
  env: { value: ["-u", "--unset", "-C", "--chdir"], assigns: true },
  command: { value: [], noExec: ["-v", "-V"] },
  builtin: { value: [] },
  exec: { value: ["-a"] },
  nice: { value: ["-n", "--adjustment"] },
  ionice: { value: ["-c", "-n", "-p", "--class", "--classdata"] },
  nohup: { value: [] },
  setsid: { value: [] },
  unbuffer: { value: [] },
  caffeinate: { value: ["-w", "-t"] },
  timeout: { value: ["-s", "--signal", "-k", "--kill-after"], skip: 1 },
  time: { value: ["-f", "--format", "-o", "--output"] },
  stdbuf: { value: ["-i", "-o", "-e", "--input", "--output", "--error"] },
  xargs: {
    value: ["-I", "-n", "-P", "-L", "-d", "-E", "-s", "-a", "--arg-file", "--delimiter", "--max-args", "--max-procs",
      "--max-lines", "--replace", "--eof", "--max-chars"],
  },
  watch: { value: ["-n", "--interval", "-q", "--equexit"] },
  strace: { value: ["-o", "-e", "-p", "-s", "-u", "-E", "-P", "-a", "-O", "-S", "-I", "-b", "-X"] },
  ltrace: { value: ["-o", "-e", "-p", "-s", "-u", "-n", "-a"] },
  chroot: { value: ["--userspec", "--groups"], skip: 1 },
  flock: { value: ["-w", "--timeout", "-E", "--conflict-exit-code"], skip: 1 },
  busybox: { value: [] },
};

export const SHELLS: ReadonlySet<string> = new Set(["sh", "bash", "zsh", "dash", "ksh", "ash", "mksh", "yash", "fish"]);

/** How `xargs` turns its input into arguments of the command it runs. */
export interface XargsInput {
  /** `-I R` / `--replace[=R]` / `-i`: each input line replaces R in the arguments. */
  readonly replace?: string;
  /** Items separated by NUL (`-0`), by a delimiter (`-d`), by lines (`-L`, `-I`), else by blanks. */
  readonly split: "nul" | "lines" | "blanks" | { readonly delimiter: string };
  /** `-a FILE`: items come from a file, not stdin. */
  readonly fromFile: boolean;
}

/** Stands for piped input nobody knows statically: an argument built from it is a dynamic target. */
export const UNKNOWN_INPUT = "$XARGS_INPUT";
/** At most this many input items of xargs / parallel become arguments, and at most this many arguments in all. */
export const MAX_INPUT_ITEMS = 64;
const MAX_EXPANDED_ARGS = 4096;

/**
 * `argv` with `items` put in place of `replace` (each argument holding it becomes one per item, keeping its own
 * knownness: `sh -c 'wc -l {}'` is still a known program) or appended. Past the bound the items are unknown.
 */
export function placeInputs(argv: readonly Arg[], items: readonly Arg[], replace: string | undefined): Arg[] {
  const holders = replace ? argv.filter((a, i) => i > 0 && a.value.includes(replace)).length : 0;
  const use = argv.length + items.length * Math.max(1, holders) <= MAX_EXPANDED_ARGS ? items : [{ value: UNKNOWN_INPUT, known: false }];
  if (!replace || holders === 0) return [...argv, ...use];
  return argv.flatMap((a, i) => (i > 0 && a.value.includes(replace) ? use.map((it) => ({ ...a, value: a.value.split(replace).join(it.value) })) : [a]));
}

export interface Unwrapped {
  argv: Arg[];
  wrappers: string[];
  assigns: { name: string; value: string }[];
  /** Programs given as one string (env -S). */
  scripts: NestedScript[];
  /** Set when the command is run by xargs: its arguments also come from xargs' input. */
  xargs?: XargsInput;
}

/** xargs' options (before its command) as far as they decide how input becomes arguments. */
function xargsInput(opts: readonly Arg[]): XargsInput {
  let replace: string | undefined;
  let split: XargsInput["split"] = "blanks";
  let fromFile = false;
  for (let i = 0; i < opts.length; i++) {
    const a = opts[i]?.value ?? "";
    const next = opts[i + 1]?.value ?? "";
    if (a === "-0" || a === "--null") split = "nul";
    else if (a === "-I") [replace, split, i] = [next, "lines", i + 1];
    else if (a.startsWith("-I")) [replace, split] = [a.slice(2), "lines"];
    else if (a === "-i" || a === "--replace") [replace, split] = ["{}", "lines"];
    else if (a.startsWith("--replace=")) [replace, split] = [a.slice(10), "lines"];
    else if (a === "-L" || a === "--max-lines" || /^-L\d+$/.test(a)) split = split === "nul" ? split : "lines";
    else if (a === "-d" || a === "--delimiter") [split, i] = [{ delimiter: unescapeDelimiter(next) }, i + 1];
    else if (a.startsWith("--delimiter=")) split = { delimiter: unescapeDelimiter(a.slice(12)) };
    else if (a === "-a" || a === "--arg-file" || a.startsWith("--arg-file=")) fromFile = true;
  }
  return { ...(replace !== undefined ? { replace } : {}), split, fromFile };
}

function unescapeDelimiter(d: string): string {
  return d === "\\n" ? "\n" : d === "\\0" ? "\0" : d === "\\t" ? "\t" : d.slice(0, 1);
}

/** Index of the first argument after `spec`'s options, or -1 when the wrapper runs nothing. */
function commandStart(args: readonly Arg[], spec: WrapperSpec, out: Unwrapped, name: string): number {
  let i = 0;
  let skip = spec.skip ?? 0;
  while (i < args.length) {
    const a = args[i]?.value ?? "";
    if (a === "--") return i + 1 + skip;
    if (spec.assigns && /^[A-Za-z_][A-Za-z0-9_]*=/.test(a)) {
      const eq = a.indexOf("=");
      out.assigns.push({ name: a.slice(0, eq), value: a.slice(eq + 1) });
      i++;
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      if (spec.noExec?.includes(a)) return -1;
      if (name === "env" && (a === "-S" || a.startsWith("--split-string"))) {
        const text = a.includes("=") ? a.slice(a.indexOf("=") + 1) : (args[i + 1]?.value ?? "");
        out.scripts.push({ text, known: args[i + 1]?.known ?? true, marker: "nested_shell", markers: [] });
        return -1;
      }
      // `-u root` or `-uroot`/`--user=root`: only the separate form consumes the next argument.
      i += spec.value.includes(a) ? 2 : 1;
      continue;
    }
    if (skip > 0) {
      skip--;
      i++;
      continue;
    }
    return i;
  }
  return -1;
}

/** Strip wrappers from the front of argv; the final argv may be the wrapper itself (`sudo -i`, bare `env`). */
export function unwrap(argv: Arg[]): Unwrapped {
  const out: Unwrapped = { argv, wrappers: [], assigns: [], scripts: [] };
  for (let guard = 0; guard < 16 && out.argv.length > 0; guard++) {
    const name = basename(out.argv[0]?.value ?? "");
    const args = out.argv.slice(1);
    // python -m pip … is pip
    if (/^python[\d.]*$/.test(name) && args[0]?.value === "-m" && /^pip\d?$/.test(args[1]?.value ?? "")) {
      out.wrappers.push(name);
      out.argv = args.slice(1);
      continue;
    }
    const spec = WRAPPERS[name];
    if (!spec || !(out.argv[0]?.known ?? false)) break;
    const start = commandStart(args, spec, out, name);
    if (start < 0 || start >= args.length) {
      if (out.scripts.length > 0) out.argv = [];
      break;
    }
    out.wrappers.push(name);
    if (name === "xargs") out.xargs = xargsInput(args.slice(0, start));
    out.argv = args.slice(start);
  }
  return out;
}

export interface Nested {
  scripts: NestedScript[];
  argvs: { argv: Arg[]; marker: Marker }[];
}

const SSH_VALUE = new Set(["-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o", "-p",
  "-Q", "-R", "-S", "-W", "-w", "-B"]);
const DOCKER_EXEC_VALUE = new Set(["-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir", "--detach-keys"]);
const DOCKER_RUN_VALUE = new Set([...DOCKER_EXEC_VALUE, "-v", "--volume", "-p", "--publish", "--name", "--network",
  "--net", "--entrypoint", "--platform", "-m", "--memory", "--cpus", "--mount", "--label", "-l", "--add-host",
  "--hostname", "-h", "--restart", "--pull", "--cap-add", "--cap-drop", "--device", "--shm-size", "--ulimit", "--tmpfs",
  "--log-driver", "--runtime", "--gpus", "--ipc", "--pid", "--security-opt", "--stop-signal", "--expose", "--dns"]);

/** First positional index after options, given which options take a value. */
function firstPositional(args: readonly Arg[], valueOpts: ReadonlySet<string>, from = 0): number {
  for (let i = from; i < args.length; i++) {
    const a = args[i]?.value ?? "";
    if (a === "--") return i + 1;
    if (!a.startsWith("-") || a === "-") return i;
    if (valueOpts.has(a)) i++;
  }
  return args.length;
}

/** Shell options: returns the script text index (-c) or stdin/script-file mode. */
export function shellInvocation(args: readonly Arg[]): { mode: "c" | "stdin" | "file"; index: number } {
  let hasC = false;
  let stdin = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]?.value ?? "";
    if (a === "--" || a === "-") return { mode: hasC ? "c" : "stdin", index: a === "-" ? -1 : i + 1 };
    if (a === "-o" || a === "+o" || a === "-O" || a === "+O" || a === "--rcfile" || a === "--init-file") {
      i++;
      continue;
    }
    if (/^-[a-zA-Z]+$/.test(a)) {
      if (a.includes("c")) hasC = true;
      if (a.includes("s")) stdin = true;
      continue;
    }
    if (a.startsWith("--") || a.startsWith("+")) continue;
    return { mode: hasC ? "c" : stdin ? "stdin" : "file", index: i };
  }
  return { mode: "stdin", index: -1 };
}

function joined(args: readonly Arg[]): { text: string; known: boolean; markers: Marker[] } {
  return {
    text: args.map((a) => a.value).join(" "),
    known: args.every((a) => a.known),
    markers: args.flatMap((a) => a.markers ?? []),
  };
}

function one(a: Arg, marker: Marker): NestedScript {
  return { text: a.value, known: a.known, marker, markers: a.markers ?? [] };
}

const PARALLEL_VALUE = new Set(["-j", "--jobs", "-S", "--sshlogin", "-N", "-n", "--max-args", "-a", "--arg-file",
  "--delay", "--timeout", "--joblog", "--results", "--tmpdir", "-d", "--delimiter", "-I", "--halt", "--retries"]);

/** GNU parallel: its command (one word or a whole string) with the `:::` inputs put in place of `{}`. */
function parallelJobs(args: readonly Arg[]): { argv: Arg[]; marker: Marker }[] {
  const start = firstPositional(args, PARALLEL_VALUE);
  const sep = args.findIndex((a, i) => i >= start && /^:::+\+?$/.test(a.value));
  const command = args.slice(start, sep < 0 ? args.length : sep);
  if (command.length === 0) return [];
  const inputs = sep < 0 ? [{ value: UNKNOWN_INPUT, known: false }] : args.slice(sep + 1).filter((a) => !/^:::+\+?$/.test(a.value)).slice(0, MAX_INPUT_ITEMS);
  // `parallel 'rm -rf {}' ::: x` gives the command as one string: its words, as the shell would split them.
  const one = command.length === 1 ? command[0] : undefined;
  const words = one ? one.value.split(/\s+/).filter((w) => w !== "").map((value): Arg => ({ value, known: one.known })) : command;
  const argv = placeInputs(words, inputs, "{}");
  return argv.length > 0 ? [{ argv, marker: "xargs" }] : [];
}

/** `git config alias.x '!cmd'` and `git -c alias.x='!cmd'`: a shell command git runs as a subcommand. */
function gitAliasScripts(args: readonly Arg[]): NestedScript[] {
  const out: NestedScript[] = [];
  args.forEach((a, i) => {
    const inline = /^alias\.[\w-]+=!(.*)$/s.exec(a.value)?.[1];
    const separate = /^alias\.[\w-]+$/.test(a.value) ? args[i + 1]?.value.match(/^!(.*)$/s)?.[1] : undefined;
    const text = inline ?? separate;
    if (text !== undefined) out.push({ text, known: a.known && (args[i + 1]?.known ?? true), marker: "alias", markers: [] });
  });
  return out;
}

/** `git -c alias.p='push --force' p origin main` runs `git push --force origin main`. */
function gitAliasCommand(args: readonly Arg[]): Arg[] | undefined {
  const aliases = new Map<string, string>();
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]?.value ?? "";
    if (a === "-c") {
      const m = /^alias\.([\w-]+)=(?!!)(.+)$/s.exec(args[i + 1]?.value ?? "");
      if (m?.[1] && m[2]) aliases.set(m[1], m[2]);
      i++;
    } else if (!a.startsWith("-")) break;
  }
  const expansion = aliases.get(args[i]?.value ?? "");
  if (expansion === undefined) return undefined;
  const words = expansion.split(/\s+/).filter((w) => w !== "").map((value): Arg => ({ value, known: true }));
  return [{ value: "git", known: true }, ...words, ...args.slice(i + 1)];
}

/** Programs carried by the (unwrapped) command. */
export function nestedOf(argv: readonly Arg[]): Nested {
  const out: Nested = { scripts: [], argvs: [] };
  const name = basename(argv[0]?.value ?? "");
  const args = argv.slice(1);
  const val = (i: number): string => args[i]?.value ?? "";
  if (SHELLS.has(name)) {
    const inv = shellInvocation(args);
    const script = args[inv.index];
    if (inv.mode === "c" && script) out.scripts.push({ ...one(script, "nested_shell"), params: args.slice(inv.index + 1) });
  } else if (name === "su") {
    const i = args.findIndex((a) => a.value === "-c" || a.value === "--command");
    const script = args[i + 1];
    if (i >= 0 && script) out.scripts.push(one(script, "nested_shell"));
  } else if (name === "ssh") {
    const host = firstPositional(args, SSH_VALUE);
    const rest = args.slice(host + 1);
    if (rest.length > 0) out.scripts.push({ ...joined(rest), marker: "remote" });
  } else if ((name === "docker" || name === "podman") && (val(0) === "exec" || val(0) === "run")) {
    const opts = val(0) === "exec" ? DOCKER_EXEC_VALUE : DOCKER_RUN_VALUE;
    const target = firstPositional(args, opts, 1);
    const rest = args.slice(target + 1);
    if (rest.length > 0) out.argvs.push({ argv: rest, marker: "remote" });
  } else if ((name === "kubectl" || name === "oc") && val(0) === "exec") {
    const dd = args.findIndex((a) => a.value === "--");
    if (dd >= 0 && dd + 1 < args.length) out.argvs.push({ argv: args.slice(dd + 1), marker: "remote" });
  } else if (name === "find") {
    for (let i = 0; i < args.length; i++) {
      if (!/^-(exec|execdir|ok|okdir)$/.test(val(i))) continue;
      let j = i + 1;
      while (j < args.length && val(j) !== ";" && val(j) !== "+") j++;
      if (j > i + 1) out.argvs.push({ argv: args.slice(i + 1, j), marker: "find_exec" });
      i = j;
    }
  } else if (name === "fd" || name === "fdfind") {
    // `fd … -x cmd` / `-X cmd`: the rest of the arguments (up to `;`) is the command, run on each file found.
    const i = args.findIndex((a) => /^(-x|--exec|-X|--exec-batch)$/.test(a.value));
    const end = args.findIndex((a, j) => j > i && a.value === ";");
    if (i >= 0 && i + 1 < args.length) out.argvs.push({ argv: args.slice(i + 1, end < 0 ? args.length : end), marker: "find_exec" });
  } else if (name === "parallel") {
    out.argvs.push(...parallelJobs(args));
  } else if (name === "git") {
    out.scripts.push(...gitAliasScripts(args));
    const alias = gitAliasCommand(args);
    if (alias) out.argvs.push({ argv: alias, marker: "alias" });
  } else if (name === "eval") {
    if (args.length > 0) out.scripts.push({ ...joined(args), marker: "eval" });
  } else if (name === "alias") {
    for (const a of args) {
      const eq = a.value.indexOf("=");
      if (eq > 0) out.scripts.push({ ...one(a, "alias"), text: a.value.slice(eq + 1) });
    }
  } else if (name === "trap") {
    const first = args[0];
    if (first && first.value !== "-" && !first.value.startsWith("-")) {
      out.scripts.push(one(first, "trap"));
    }
  }
  return out;
}
