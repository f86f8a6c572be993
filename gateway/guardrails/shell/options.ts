// Generic argv split into flags, option values and positionals. Which options take a value is per-program
// knowledge (so `git -C repo push` finds `push` and `curl -o out URL` does not count `out` as positional).

/** Options that consume the next argument, per program; `name:2` consumes two (jq --arg k v). */
const VALUE_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  git: ["-C", "-c", "--git-dir", "--work-tree", "--namespace", "-m", "-F", "-b", "-B", "--author", "--date",
    "--message", "--file", "-o", "--push-option", "--expire", "--format", "--pretty", "-L", "-n", "-S"],
  kubectl: ["-n", "--namespace", "--context", "--kubeconfig", "-l", "--selector", "-o", "--output", "-f", "--filename",
    "-c", "--container", "--cluster", "--user", "-L", "--tail", "--since", "--replicas", "--image", "--field-selector"],
  oc: ["-n", "--namespace", "--context", "-l", "-o", "-f", "-c"],
  helm: ["-n", "--namespace", "-f", "--values", "--set", "--set-string", "--kube-context", "--version", "--timeout"],
  aws: ["--region", "--profile", "--output", "--endpoint-url", "--query", "--instance-ids", "--table-name",
    "--stack-name", "--db-instance-identifier", "--function-name", "--bucket", "--key", "--since", "--cli-input-json"],
  gcloud: ["--zone", "--region", "--project", "--format", "--image", "--filter", "--account", "--configuration"],
  az: ["-g", "-n", "--name", "--resource-group", "--subscription", "-o", "--output", "--query", "-l", "--location"],
  docker: ["-t", "--tag", "--build-arg", "-e", "--env", "-v", "--volume", "-p", "--publish", "-w", "--workdir",
    "--name", "--format", "--filter", "--tail", "--network", "--platform", "-H", "--host", "--context", "--config",
    "--entrypoint", "--env-file", "-u", "--user", "--target", "--cache-from", "--label", "-m", "--memory", "--since",
    "--username", "--password"],
  helmfile: ["-e", "--environment", "-f", "--file"],
  find: ["-name", "-iname", "-path", "-ipath", "-type", "-maxdepth", "-mindepth", "-newer", "-mtime", "-mmin", "-atime",
    "-size", "-user", "-group", "-perm", "-regex", "-iregex", "-printf", "-fprint", "-wholename", "-iwholename",
    "-ctime", "-cmin", "-uid", "-gid", "-samefile", "-links", "-inum", "-fstype", "-regextype"],
  fd: ["-t", "--type", "-e", "--extension", "-E", "--exclude", "-d", "--max-depth", "--min-depth", "--exact-depth",
    "-S", "--size", "--changed-within", "--changed-before", "-o", "--owner", "-j", "--threads", "-c", "--color",
    "--base-directory", "--search-path", "--max-results", "--ignore-file"],
  sed: ["-e", "-f", "-l", "--expression", "--file"],
  grep: ["-e", "-f", "-m", "-A", "-B", "-C", "--regexp", "--file", "--max-count", "--context", "--label"],
  egrep: ["-e", "-f", "-m", "-A", "-B", "-C"],
  rg: ["-e", "-f", "-g", "-t", "-T", "-m", "-A", "-B", "-C", "-M", "-j", "--glob", "--type", "--type-not", "--regexp",
    "--file", "--max-count", "--threads", "--context", "--max-columns", "--pre", "--iglob"],
  curl: ["-o", "--output", "-d", "--data", "--data-binary", "--data-raw", "--data-urlencode", "--data-ascii", "-F",
    "--form", "--form-string", "-H", "--header", "-X", "--request", "-u", "--user", "-T", "--upload-file", "-K",
    "--config", "-A", "--user-agent", "-e", "--referer", "-b", "--cookie", "-c", "--cookie-jar", "-x", "--proxy",
    "-m", "--max-time", "--connect-timeout", "--retry", "-w", "--write-out", "--json", "--url", "-r", "--range",
    "--cacert", "--cert", "--key", "-E", "--resolve", "--interface", "--limit-rate", "-y", "-Y", "--oauth2-bearer"],
  wget: ["-O", "--output-document", "-o", "--output-file", "-P", "--directory-prefix", "-U", "--user-agent",
    "--header", "--post-data", "--post-file", "--body-file", "--body-data", "-i", "--input-file", "-T", "--timeout",
    "-t", "--tries", "--method", "--user", "--password"],
  openssl: ["-in", "-out", "-key", "-keyout", "-inkey", "-newkey", "-subj", "-days", "-passin", "-passout", "-CA",
    "-CAkey", "-cert", "-config", "-extensions", "-extfile", "-connect", "-servername", "-certfile", "-name", "-pass",
    "-md", "-digest", "-sigopt", "-pkeyopt", "-outform", "-inform", "-keyform", "-set_serial", "-addext"],
  ssh: ["-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o", "-p", "-Q", "-R", "-S", "-W",
    "-w", "-B"],
  scp: ["-i", "-P", "-o", "-F", "-c", "-l", "-S", "-J"],
  rsync: ["-e", "--rsh", "--exclude", "--include", "--exclude-from", "--files-from", "--rsync-path", "-f", "--filter",
    "--chmod", "--chown", "--log-file", "--password-file", "--port", "--timeout", "--bwlimit"],
  nc: ["-e", "-c", "-p", "-s", "-w", "-i", "-q", "-x", "-X", "-O", "-I"],
  ncat: ["-e", "-c", "--exec", "--sh-exec", "--lua-exec", "-p", "-s", "-w", "-i", "-o", "--output"],
  tar: ["-f", "-C", "-T", "-X", "-I", "--use-compress-program", "--file", "--directory"],
  zip: ["-x", "-i", "-P", "--password", "-b"],
  gh: ["-t", "--title", "-b", "--body", "-F", "--body-file", "-R", "--repo", "-L", "--limit", "--json", "-q", "--jq",
    "-d", "--desc", "--notes", "-l", "--label", "-B", "--base", "-H", "--head", "-a", "--assignee", "-m",
    "--milestone", "-X", "--method", "-f", "--field", "--raw-field"],
  perl: ["-e", "-E", "-I", "-M", "-i"],
  head: ["-n", "-c", "--lines", "--bytes"],
  tail: ["-n", "-c", "--lines", "--bytes"],
  cut: ["-d", "-f", "-c", "-b"],
  sort: ["-k", "-t", "-o", "-S", "-T"],
  xxd: ["-c", "-g", "-l", "-s", "-o"],
  base64: ["-w", "--wrap", "-i", "--input", "-o", "--output"],
  jq: ["--arg:2", "--argjson:2", "--slurpfile:2", "--rawfile:2", "-f", "--from-file", "--indent"],
  chmod: ["--reference"],
  chown: ["--reference"],
  kill: ["-s", "-n"],
  systemctl: ["-H", "--host", "-M", "--machine", "-p", "--property", "-t", "--type", "--state", "-n", "--lines"],
  crontab: ["-u"],
  cp: ["-t", "--target-directory", "-S", "--suffix"],
  mv: ["-t", "--target-directory", "-S", "--suffix"],
  ln: ["-t", "--target-directory", "-S", "--suffix"],
  install: ["-m", "--mode", "-o", "--owner", "-g", "--group", "-t", "--target-directory"],
  npm: ["--prefix", "-w", "--workspace", "--registry", "--tag"],
  pnpm: ["--filter", "-F", "-C", "--dir"],
  yarn: ["--cwd"],
  pip: ["-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url", "--extra-index-url",
    "-t", "--target", "-d", "--dest", "--python-version", "--platform"],
  redis: [],
  "redis-cli": ["-h", "-p", "-a", "-n", "-u", "--user", "--pass", "-s"],
  heroku: ["--app", "-a", "--confirm", "-r", "--remote"],
  doctl: ["--context", "-t", "--access-token", "-o", "--output", "--format"],
  security: ["-s", "-a", "-l", "-c", "-k"],
  useradd: ["-u", "-g", "-G", "-d", "-s", "-c", "-e", "-k", "-p"],
  usermod: ["-u", "-g", "-G", "-d", "-s", "-c", "-e", "-l", "-p"],
  truncate: ["-s", "--size", "-r", "--reference"],
  shred: ["-n", "--iterations", "-s", "--size"],
  terraform: ["-var", "-var-file", "-target", "-chdir"],
  dig: ["-p", "-t", "-c", "-f", "-q", "-x", "-k", "-y"],
  claude: ["-p", "--print", "--model", "--permission-mode", "--allowedTools", "--disallowedTools", "--output-format",
    "--max-turns", "--append-system-prompt", "--settings", "--mcp-config"],
  codex: ["-a", "--ask-for-approval", "-s", "--sandbox", "-m", "--model", "-c", "--config", "-p", "--profile", "-C",
    "--cd", "-i", "--image"],
  gemini: ["-p", "--prompt", "-m", "--model", "--approval-mode", "-o", "--output-format"],
};

export interface ParsedArgs {
  /** `-rf` adds `-rf`, `-r`, `-f`; `--force=x` adds `--force`; value options count as flags too. */
  readonly flags: Set<string>;
  readonly positionals: string[];
  /** Values given to options, by option name (`-d @f`, `--data=@f`, `-d@f`). */
  readonly options: Map<string, string[]>;
}

function aliasOf(name: string): string {
  if (name === "pip3" || name === "uv") return "pip";
  if (name === "netcat") return "nc";
  if (name === "fgrep") return "grep";
  return name;
}

export function parseArgs(name: string, args: readonly string[]): ParsedArgs {
  const table = VALUE_OPTIONS[aliasOf(name)] ?? [];
  const arity = new Map<string, number>();
  for (const entry of table) {
    const [opt = "", n] = entry.split(":");
    arity.set(opt, n ? Number(n) : 1);
  }
  const flags = new Set<string>();
  const positionals: string[] = [];
  const options = new Map<string, string[]>();
  const put = (k: string, v: string): void => {
    const list = options.get(k);
    if (list) list.push(v);
    else options.set(k, [v]);
  };
  let ended = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (ended || !a.startsWith("-") || a === "-") {
      positionals.push(a);
      continue;
    }
    if (a === "--") {
      ended = true;
      continue;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const key = eq > 0 ? a.slice(0, eq) : a;
      flags.add(key);
      if (eq > 0) put(key, a.slice(eq + 1));
      else if (arity.has(key)) {
        put(key, args.slice(i + 1, i + 1 + (arity.get(key) ?? 1)).join(" "));
        i += arity.get(key) ?? 1;
      }
      continue;
    }
    flags.add(a);
    const eq = a.indexOf("=");
    if (eq > 0) {
      put(a.slice(0, eq), a.slice(eq + 1)); // find-style -name=x is rare; dd-style handled as positional
      continue;
    }
    if (arity.has(a)) {
      put(a, args[i + 1] ?? "");
      i += arity.get(a) ?? 1;
      continue;
    }
    const short = a.slice(0, 2);
    if (a.length > 2 && arity.has(short)) {
      flags.add(short);
      put(short, a.slice(2)); // -d@file, -o/tmp/x
      continue;
    }
    if (/^-[a-zA-Z0-9]+$/.test(a)) for (const ch of a.slice(1)) flags.add(`-${ch}`);
  }
  return { flags, positionals, options };
}
