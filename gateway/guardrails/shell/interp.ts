// Interpreters and database clients: where their program text is (-c, -e, --eval, here-doc, pipe), whether
// they read a program from stdin, and which shell commands their code runs (os.system('…'), execSync('…')).
import type { InlineCode } from "./types.js";
import { SHELLS, shellInvocation, type Arg } from "./unwrap.js";

type Lang = InlineCode["lang"];

export function languageOf(name: string): Lang | undefined {
  if (/^(python[\d.]*|pypy\d?)$/.test(name)) return "python";
  if (/^(node|nodejs|bun)$/.test(name)) return "node";
  if (name === "perl") return "perl";
  if (name === "ruby") return "ruby";
  if (/^php[\d.]*$/.test(name)) return "php";
  if (/^(awk|gawk|mawk|nawk)$/.test(name)) return "awk";
  if (/^(psql|mysql|mariadb|sqlite3|clickhouse-client|duckdb|cockroach|sqlcmd|cqlsh|snowsql)$/.test(name)) return "sql";
  if (name === "mongo" || name === "mongosh") return "mongo";
  return undefined;
}

/** Options that take the program text (a short-option cluster ending in the letter also does: perl -pie). */
const CODE_OPTS: Readonly<Record<string, readonly string[]>> = {
  python: ["-c"],
  node: ["-e", "--eval", "-p", "--print"],
  perl: ["-e", "-E"],
  ruby: ["-e"],
  php: ["-r"],
  awk: [],
  mongo: ["--eval"],
  psql: ["-c", "--command"],
  mysql: ["-e", "--execute"],
  mariadb: ["-e", "--execute"],
  cockroach: ["-e", "--execute"],
  cqlsh: ["-e", "--execute"],
  "clickhouse-client": ["-q", "--query"],
  snowsql: ["-q", "--query"],
  sqlcmd: ["-Q", "-q"],
  duckdb: ["-c"],
  sqlite3: ["-cmd"],
};
/** Options that take some other value (so it is not mistaken for a script path). */
const VALUE_OPTS: Readonly<Record<Lang, readonly string[]>> = {
  python: ["-W", "-X", "-m"],
  node: ["-r", "--require", "--input-type", "--import", "--loader"],
  perl: ["-I", "-M", "-m"],
  ruby: ["-I", "-r"],
  php: ["-f", "-d", "-c"],
  awk: ["-F", "-v", "-f"],
  sql: ["-h", "-p", "-U", "-d", "-u", "-D", "-P", "-o", "-v", "--set", "-f", "--file", "-S", "--host", "--port",
    "--user", "--username", "--dbname", "--database", "-H", "-k", "--keyspace"],
  mongo: ["--host", "--port", "-u", "-p", "--username", "--password", "--authenticationDatabase", "-f", "--file"],
};
/** Value options that name a program file or module instead of inline code. */
const SCRIPT_OPTS = new Set(["-m", "-f", "--file"]);

export interface Program {
  code?: InlineCode;
  /** Reads its program from stdin (shells and general interpreters only). */
  stdinProgram: boolean;
}

/** Where the program of an interpreter/shell invocation comes from. `stdin` is the known stdin text, if any. */
export function programOf(name: string, args: readonly Arg[], stdin: string | undefined): Program {
  if (SHELLS.has(name)) return { stdinProgram: shellInvocation(args).mode === "stdin" };
  const lang = languageOf(name);
  if (!lang) return { stdinProgram: false };
  const codeOpts = CODE_OPTS[lang === "sql" ? name : lang] ?? [];
  const shortCode = codeOpts.filter((o) => o.length === 2).map((o) => o[1] ?? "");
  const valueOpts = VALUE_OPTS[lang];
  const pieces: string[] = [];
  const positionals: string[] = [];
  let script = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]?.value ?? "";
    const eq = a.indexOf("=");
    if (a === "-") continue;
    if (lang === "ruby" && a.startsWith("-r") && a.length > 2) {
      pieces.push(`require '${a.slice(2)}'`);
    } else if (a.startsWith("--") && eq > 0 && codeOpts.includes(a.slice(0, eq))) {
      pieces.push(a.slice(eq + 1));
    } else if (codeOpts.includes(a)) {
      pieces.push(args[++i]?.value ?? "");
    } else if (/^-[a-zA-Z]+$/.test(a) && lang !== "sql" && shortCode.includes(a[a.length - 1] ?? "")) {
      pieces.push(args[++i]?.value ?? ""); // perl -pie / -ne 'code'
    } else if (lang === "sql" && a.length > 2 && shortCode.includes(a[1] ?? "") && !a.startsWith("--")) {
      pieces.push(a.slice(2)); // mysql -e"SQL"
    } else if (valueOpts.includes(a)) {
      if (SCRIPT_OPTS.has(a)) script = true;
      if (lang === "ruby" && a === "-r") pieces.push(`require '${args[i + 1]?.value ?? ""}'`);
      i++;
    } else if (!a.startsWith("-")) {
      positionals.push(a);
    }
  }
  if (lang === "awk") {
    const program = positionals[0];
    return { stdinProgram: false, ...(program !== undefined && !script ? { code: { lang, text: program } } : {}) };
  }
  if (name === "sqlite3" && positionals.length > 1) pieces.push(positionals.slice(1).join(" "));
  if (pieces.length > 0) return { stdinProgram: false, code: { lang, text: pieces.join("\n") } };
  const client = lang === "sql" || lang === "mongo";
  const fromStdin = !script && (client || positionals.length === 0);
  if (fromStdin && stdin !== undefined) return { stdinProgram: !client, code: { lang, text: stdin } };
  return { stdinProgram: fromStdin && !client };
}

const QUOTED = /(['"`])((?:\\.|(?!\1)[^\\])*)\1/g;

function listToCommand(list: string): string {
  const items = [...list.matchAll(QUOTED)].map((m) => m[2] ?? "");
  return items.map((s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`)).join(" ");
}

const EXEC_PATTERNS: Readonly<Partial<Record<Lang, readonly RegExp[]>>> = {
  python: [
    /\b(?:os\.system|os\.popen|os\.exec\w*|subprocess\.(?:run|call|check_call|check_output|Popen|getoutput|getstatusoutput)|commands\.getoutput)\s*\(\s*(?:(['"])((?:\\.|(?!\1)[^\\])*)\1|\[([^\]]*)\])/g,
  ],
  node: [
    /\b(?:execSync|exec|spawnSync|spawn|execFileSync|execFile)\s*\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1(?:\s*,\s*\[([^\]]*)\])?/g,
  ],
  perl: [/\b(?:system|exec|qx)\s*\(?\s*(['"])((?:\\.|(?!\1)[^\\])*)\1/g, /(`)([^`]+)`/g],
  ruby: [/\b(?:system|exec|spawn|%x)\s*\(?\s*(['"])((?:\\.|(?!\1)[^\\])*)\1/g, /(`)([^`]+)`/g, /%x\{()([^}]*)\}/g],
  php: [/\b(?:system|exec|shell_exec|passthru|popen|proc_open)\s*\(\s*(['"])((?:\\.|(?!\1)[^\\])*)\1/g, /(`)([^`]+)`/g],
  awk: [/\bsystem\s*\(\s*(")((?:\\.|[^"\\])*)"/g, /(")((?:\\.|[^"\\])*)"\s*\|\s*getline/g, /\|\s*(")((?:\\.|[^"\\])*)"/g],
};

/** Shell command strings that interpreter code passes to system()/exec()/subprocess. */
export function execStrings(code: InlineCode): string[] {
  const out: string[] = [];
  for (const re of EXEC_PATTERNS[code.lang] ?? []) {
    for (const m of code.text.matchAll(re)) {
      const literal = m[2];
      const list = m[3];
      if (list !== undefined && (literal === undefined || literal === "")) out.push(listToCommand(list));
      else if (literal !== undefined) out.push(list !== undefined ? `${literal} ${listToCommand(list)}` : literal);
    }
  }
  return out.filter((s) => s.trim() !== "");
}
