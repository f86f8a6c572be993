// Walks an unbash AST into simple commands: pipelines, lists, compound commands, substitutions, functions, and
// every nested program (bash -c, eval, here-docs and literals piped into a shell, decoded payloads, interpreter
// exec strings), each parsed again. One walker per analysed script; it keeps the script's literal assignments.
import {
  parse,
  type Command,
  type CommandNode,
  type ParsedScript,
  type PipelineNode,
  type AndOr,
  type CompoundList,
  type For,
  type Redirected,
  type Statement,
  type While,
  type Word,
} from "unbash";
import { type Budget, LimitExceeded } from "./budget.js";
import { staticProgram, staticStage } from "./decode.js";
import { effects, normalizePath } from "./effects.js";
import { execStrings, languageOf, programOf } from "./interp.js";
import { parseArgs } from "./options.js";
import type { Marker, RedirectInfo, SimpleCommand } from "./types.js";
import { SHELLS, basename, nestedOf, unwrap, type Arg, type NestedScript, type XargsInput, MAX_INPUT_ITEMS, UNKNOWN_INPUT, placeInputs } from "./unwrap.js";
import { listingOf, programTemplate, MAX_LOOP_ITEMS, MAX_LOOP_PASSES, readItems, readNames, splitRead } from "./input.js";
import { evalWord, testWords, type Env, type Substitution, type VarValue, type WordValue } from "./words.js";

interface Ctx {
  readonly depth: number;
  readonly markers: readonly Marker[];
  /** Known stdin text (piped literal, decoded payload). */
  readonly stdin?: VarValue;
  /** Unknown stdin that lists files under a known place (`find / …`, `ls ~`), as a path pattern: `/*`, `~/…`. */
  readonly stdinListing?: string;
  /** Unknown stdin that a sed/awk stage built as commands (`sed 's/^/rm -rf /'`), for a shell reading it. */
  readonly stdinTemplate?: string;
}

/** A word that is only a brace list with no spaces or quotes: `{a,b,c}`. */
const BRACE_LIST = /^\{([^{}\s'"$`\\]*,[^{}\s'"$`\\]*)\}$/;

/**
 * `eval "$(pyenv init -)"` and the like: shell setup printed by version managers and agents, the documented way to use
 * them. Their output is not known, but which program makes it is.
 */
const ENV_SETUP = /^\$\((pyenv|rbenv|nodenv|goenv|jenv|plenv|fnm|mise|rtx|direnv|zoxide|starship|brew|ssh-agent|opam|conda|micromamba|asdf|luarocks|keychain|gpg-agent|dircolors)( [\w:=./ -]*)?\)$/;

/** The items xargs reads, split as its options say (known stdin), else one placeholder for all of them. */
function xargsItems(x: XargsInput, stdin: VarValue | undefined, listing: string | undefined): Arg[] {
  if (x.fromFile || stdin === undefined) return [{ value: listing ?? UNKNOWN_INPUT, known: false }];
  const sep = x.split === "nul" ? /\0/ : x.split === "lines" ? /\n/ : x.split === "blanks" ? /\s+/ : x.split.delimiter;
  const items = stdin.value.split(sep).filter((v) => v !== "").slice(0, MAX_INPUT_ITEMS);
  return items.map((value) => ({ value: x.split === "lines" ? value.trim() : value, known: true, markers: stdin.markers }));
}


/** What a simple command's words and redirections evaluated to, before unwrapping. */
interface Evaluated {
  readonly text: string;
  readonly redirects: RedirectInfo[];
  readonly assigns: { name: string; value: string }[];
  readonly vars: string[];
  readonly argSources: string[];
  readonly ifs: boolean;
  readonly stdin?: VarValue;
  readonly heredoc: boolean;
}

const DECLARE = new Set(["export", "declare", "typeset", "local", "readonly"]);

/** How deep `(` and `{` nest in the text, quoted ones included (an overestimate, never an underestimate). */
function bracketDepth(src: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 40 || c === 123) max = Math.max(max, ++depth); // ( {
    else if ((c === 41 || c === 125) && depth > 0) depth--; // ) }
  }
  return max;
}

/** What is unusual about how a command's name was written (quoted, from a variable, an expansion trick, …). */
function commandMarkers(inherited: Iterable<Marker>, ifs: boolean | undefined, head: Arg | undefined, path: string): Set<Marker> {
  const markers = new Set<Marker>(inherited);
  if (ifs) markers.add("ifs");
  if (head?.ansiC) markers.add("ansi_c");
  else if (head?.quoted && /^[\w.+-]+$/.test(path)) markers.add("quote_splice");
  if (head?.fromVar) markers.add("variable_command");
  if (head?.trick) markers.add("expansion_trick");
  for (const m of head?.markers ?? []) markers.add(m);
  return markers;
}

export class ShellWalker {
  readonly commands: SimpleCommand[] = [];
  /** Parse errors; bounds hit are the budget's (`Budget.notes`, `LimitExceeded`). */
  readonly problems: string[] = [];
  private readonly env: Env = new Map();
  private readonly downloads = new Set<string>();
  /** The working directory after a `cd` earlier in the script, when known (relative to where it started). */
  private cwd: string | undefined;
  /** Files this script wrote with known content (`echo '…' > x.sh`), to analyse when it runs them. */
  private readonly written = new Map<string, VarValue>();
  private readonly staticOut = new WeakMap<object, VarValue>();
  /** Remotes this script added (`git remote add name url`), by name. */
  private readonly addedRemotes = new Map<string, string>();
  /** Loop bodies walked so far (once per bound value), against MAX_LOOP_PASSES. */
  private loopPasses = 0;
  private readonly resolve = (s: ParsedScript): VarValue | undefined => staticProgram(s, this.env, this.resolve, this.budget);

  constructor(private readonly budget: Budget) {}

  /** Parse and walk a program; returns the commands it produced (also appended to `commands`). */
  source(text: string, ctx: Ctx = { depth: 0, markers: [] }): SimpleCommand[] {
    const { maxDepth, maxSource } = this.budget.limits;
    if (ctx.depth > maxDepth) {
      this.budget.notes.add(`nested programs deeper than ${maxDepth} levels were not analysed`);
      return [];
    }
    let src = text;
    if (src.length > maxSource) {
      this.budget.notes.add(`script longer than ${maxSource} characters was truncated for analysis`);
      src = src.slice(0, maxSource);
    }
    this.budget.step();
    this.budget.spend(src.length);
    const nesting = bracketDepth(src);
    if (nesting > this.budget.limits.maxNesting) {
      throw new LimitExceeded(`brackets nested ${nesting} deep (more than ${this.budget.limits.maxNesting}) were not parsed`);
    }
    const ast = parse(src);
    for (const e of ast.errors ?? []) this.problems.push(`parse error: ${e.message}`);
    return this.statements(ast.commands, ast.source ?? src, ctx);
  }

  private full(): boolean {
    if (this.commands.length < this.budget.limits.maxCommands) return false;
    this.budget.notes.add(`more than ${this.budget.limits.maxCommands} commands; the rest were not analysed`);
    return true;
  }

  private statements(list: readonly Statement[], src: string, ctx: Ctx): SimpleCommand[] {
    const out: SimpleCommand[] = [];
    for (const st of list) out.push(...this.node(st.command, src, ctx));
    return out;
  }

  private list(l: CompoundList | undefined, src: string, ctx: Ctx): SimpleCommand[] {
    return l ? this.statements(l.commands, src, ctx) : [];
  }

  private node(n: PipelineNode | AndOr | CommandNode | CompoundList, src: string, ctx: Ctx): SimpleCommand[] {
    this.budget.step();
    if (this.full()) return [];
    switch (n.type) {
      case "AndOr":
        return n.commands.flatMap((c) => this.node(c, src, ctx));
      case "Pipeline":
        return this.pipeline(n.commands, src, ctx);
      case "Command":
        return this.command(n, src, ctx);
      case "Subshell":
      case "BraceGroup":
      case "CompoundList":
        return n.type === "CompoundList" ? this.list(n, src, ctx) : this.list(n.body, src, ctx);
      case "If":
        return [
          ...this.list(n.clause, src, ctx),
          ...this.list(n.then, src, ctx),
          ...n.elif.flatMap((e) => [...this.list(e.clause, src, ctx), ...this.list(e.then, src, ctx)]),
          ...this.list(n.else, src, ctx),
        ];
      case "For":
        return this.forLoop(n, src, ctx);
      case "Select":
        return [...this.words(n.wordlist ?? [], src, ctx), ...this.list(n.body, src, ctx)];
      case "ArithmeticFor":
        return this.list(n.body, src, ctx);
      case "While":
        return this.whileLoop(n, src, ctx);
      case "Case":
        return [...this.words([n.word], src, ctx), ...n.items.flatMap((i) => this.list(i.body, src, ctx))];
      case "TestCommand":
        return this.words(testWords(n.expression), src, ctx);
      case "ArithmeticCommand":
        return [];
      case "Redirected":
        return this.redirected(n, src, ctx);
      case "Function": {
        const fname = n.name.value;
        const body = this.node(n.body, src, { ...ctx, markers: [...ctx.markers, "function_body"] });
        for (const c of body) {
          if (c.name === fname && (c.upstream.includes(fname) || c.downstream.includes(fname))) c.markers.add("fork_bomb");
        }
        return body;
      }
      case "Coproc":
        return this.node(n.body, src, ctx);
    }
  }

  /** Substitutions inside words that are not command arguments (for-lists, case words, [[ … ]]). */
  private words(ws: readonly Word[], src: string, ctx: Ctx): SimpleCommand[] {
    const out: SimpleCommand[] = [];
    for (const w of ws) {
      for (const s of evalWord(w, this.env, this.resolve, this.budget).subs) out.push(...this.substitution(s, src, ctx));
    }
    return out;
  }

  private substitution(s: Substitution, src: string, ctx: Ctx): SimpleCommand[] {
    return this.statements(s.script.commands, s.script.source ?? src, { depth: ctx.depth + 1, markers: ctx.markers });
  }

  /** A compound command with redirections: `while read f; do …; done < <(git ls-files)` reads the listing. */
  private redirected(n: Redirected, src: string, ctx: Ctx): SimpleCommand[] {
    const ev = this.evaluate([], n.redirects, src, n, ctx);
    const input = n.redirects.some((r) => r.type === "Redirect" && r.operator === "<");
    const sub = ev.redirects.find((r) => r.op === "<" && r.target.startsWith("<("));
    const listing = sub ? listingOf(ev.subsProduced[0]) : undefined;
    // stdin from a file or process substitution replaces what a pipe would have given.
    const inner = this.node(n.command, src, {
      depth: ctx.depth,
      markers: ctx.markers,
      ...(ev.stdin ? { stdin: ev.stdin } : !input && ctx.stdin ? { stdin: ctx.stdin } : {}),
      ...(listing !== undefined ? { stdinListing: listing } : !input && !ev.stdin && ctx.stdinListing !== undefined ? { stdinListing: ctx.stdinListing } : {}),
    });
    for (const c of inner) c.redirects.push(...ev.redirects);
    // The files the redirections read and write (`done < .env`, `} >> ~/.bashrc`), once, on the first command.
    const fx = effects("", parseArgs("", []), ev.redirects);
    inner[0]?.reads.push(...fx.reads);
    inner[0]?.writes.push(...fx.writes);
    return inner;
  }

  /** `for x in a b $(ls)`: the body once per value (a listing's value is unknown), as if each were written out. */
  private forLoop(n: For, src: string, ctx: Ctx): SimpleCommand[] {
    const out: SimpleCommand[] = [];
    const items: VarValue[] = [];
    for (const w of n.wordlist ?? []) {
      const v = evalWord(w, this.env, this.resolve, this.budget);
      const produced = v.subs.flatMap((s) => this.substitution(s, src, ctx));
      out.push(...produced);
      const listing = !v.known && v.subs.length === 1 && w.parts?.length === 1 ? listingOf(produced[0]) : undefined;
      // An unknown word stays as written (`"$RUNNER_TEMP"/*`, `$(cat list)`): the rules judge it as in a direct call.
      if (v.known) items.push(...v.fields.map((value) => ({ value, markers: v.markers })));
      else items.push({ value: listing ?? v.value, markers: v.markers, unknown: true });
    }
    // `for x; do` iterates over the positional parameters: unknown.
    out.push(...this.loop([n.name.value], n.wordlist === undefined ? undefined : items, n.body, src, ctx));
    return out;
  }

  /** `… | while read x; do …; done`: the body with x bound to each known line, or to the listing piped in. */
  private whileLoop(n: While, src: string, ctx: Ctx): SimpleCommand[] {
    const clause = this.list(n.clause, src, ctx);
    const names = readNames(n.clause);
    if (names === undefined) return [...clause, ...this.list(n.body, src, ctx)];
    const listing = ctx.stdinListing;
    const items = ctx.stdin ? readItems(ctx.stdin) : listing !== undefined ? [{ value: listing, markers: [], unknown: true }] : undefined;
    // The body's commands take their arguments from the loop's input, as xargs' would.
    const body = { ...ctx, markers: [...new Set([...ctx.markers, "read_loop" as const])] };
    return [...clause, ...this.loop(names, items, n.body, src, body)];
  }

  /** The body walked once per distinct item with `names` bound (unknown when there are none or too many). */
  private loop(names: readonly string[], items: readonly VarValue[] | undefined, body: CompoundList, src: string, ctx: Ctx): SimpleCommand[] {
    const distinct = items === undefined ? undefined : [...new Map(items.map((i) => [i.value, i])).values()];
    const fits = distinct !== undefined && distinct.length > 0 && distinct.length <= MAX_LOOP_ITEMS && this.loopPasses + distinct.length <= MAX_LOOP_PASSES;
    const out: SimpleCommand[] = [];
    for (const item of fits ? distinct : [undefined]) {
      for (const n of names) this.env.delete(n);
      if (item) for (const [n, v] of splitRead(names, item)) this.env.set(n, v);
      this.loopPasses++;
      out.push(...this.list(body, src, ctx));
    }
    for (const n of names) this.env.delete(n);
    return out;
  }

  private pipeline(elements: readonly CommandNode[], src: string, ctx: Ctx): SimpleCommand[] {
    const groups: SimpleCommand[][] = [];
    let prev: VarValue | undefined = ctx.stdin;
    let listing: string | undefined = ctx.stdinListing;
    let template: string | undefined;
    elements.forEach((el, i) => {
      const stdin = i === 0 ? ctx.stdin : prev;
      const stdinListing = i === 0 ? ctx.stdinListing : listing;
      const group = this.node(el, src, {
        depth: ctx.depth,
        markers: ctx.markers,
        ...(stdin ? { stdin } : {}),
        ...(stdinListing !== undefined ? { stdinListing } : {}),
        ...(i > 0 && template !== undefined ? { stdinTemplate: template } : {}),
      });
      groups.push(group);
      prev = this.staticOut.get(el);
      listing = listingOf(group[0]);
      template = programTemplate(group[0]);
    });
    // Names of the whole pipeline in order; element i's are flat[start[i] .. start[i + 1]).
    const flat: string[] = [];
    const start: number[] = [];
    for (const g of groups) {
      start.push(flat.length);
      for (const c of g) if (c.name !== "") flat.push(c.name);
    }
    start.push(flat.length);
    groups.forEach((g, i) => {
      for (const c of g) {
        c.upstream.push(...flat.slice(0, start[i]));
        c.downstream.push(...flat.slice(start[i + 1]));
        // `curl … | base64 -d > x.sh`: what a later stage writes came from the download.
        if (c.upstream.some((n) => n === "curl" || n === "wget")) for (const w of c.writes) this.downloads.add(w);
      }
    });
    return groups.flat();
  }

  /** Evaluate assignments, words and redirections; walk every substitution found in them. */
  private evaluate(
    words: readonly (Command["suffix"][number] | Command["prefix"][number])[],
    redirections: Command["redirects"],
    src: string,
    node: { pos: number; end: number },
    ctx: Ctx,
  ): Evaluated & { argv: Arg[]; subsProduced: SimpleCommand[] } {
    const subs: Substitution[] = [];
    const vars: string[] = [];
    let ifs = false;
    const ev = (w: Word): WordValue => {
      const v = evalWord(w, this.env, this.resolve, this.budget);
      subs.push(...v.subs);
      vars.push(...v.vars);
      ifs ||= v.ifs;
      return v;
    };
    const argv: Arg[] = [];
    const assigns: { name: string; value: string }[] = [];
    for (const w of words) {
      if (w.type === "Assignment") {
        const v = w.value.type === "ArrayValue" ? undefined : ev(w.value);
        if (w.value.type === "ArrayValue") w.value.elements.forEach(ev);
        assigns.push({ name: w.name, value: v?.value ?? "" });
        argv.push({ value: `${w.name}=${v?.value ?? ""}`, known: v?.known ?? false, markers: v?.markers ?? [] });
      } else if (w.type === "Word") {
        const v = ev(w);
        // Brace expansion of a plain word: `{rm,-rf,/}` is three words (and a trick when it makes the command).
        const braces = !v.quoted && v.known && v.fields.length === 1 ? BRACE_LIST.exec(v.fields[0] ?? "")?.[1]?.split(",") : undefined;
        for (const f of braces ?? v.fields) {
          argv.push({
            value: f,
            known: v.known,
            quoted: v.quoted,
            ansiC: v.ansiC,
            fromVar: v.fromVar,
            trick: v.trick || braces !== undefined,
            markers: v.markers,
          });
        }
      }
    }
    const redirects: RedirectInfo[] = [];
    let stdin: VarValue | undefined;
    let heredoc = false;
    for (const r of redirections) {
      if (r.type === "HereDoc") {
        // An unquoted delimiter allows expansions in the body; evaluate it for their substitutions.
        const { text, pos, end, parts } = r.body;
        const body = parts?.length ? ev({ type: "Word", text, value: text, pos, end, parts }) : undefined;
        stdin = { value: body ? body.value : text, markers: body?.markers ?? [] };
        heredoc = true;
      } else if (r.type === "HereString") {
        const v = r.target ? ev(r.target) : undefined;
        stdin = { value: `${v?.value ?? ""}\n`, markers: v?.markers ?? [] };
      } else {
        const v = r.target ? ev(r.target) : undefined;
        const fd = r.descriptor?.type === "FileDescriptor" ? { fd: r.descriptor.value } : {};
        redirects.push({ op: r.operator, target: v?.value ?? "", known: v?.known ?? true, ...fd });
      }
    }
    const subsProduced = subs.flatMap((s) => this.substitution(s, src, ctx));
    return {
      text: src.slice(node.pos, node.end),
      argv,
      redirects,
      assigns,
      vars,
      ifs,
      heredoc,
      argSources: subsProduced.map((c) => c.name).filter((x) => x !== ""),
      subsProduced,
      ...(stdin ? { stdin } : {}),
    };
  }

  private command(c: Command, src: string, ctx: Ctx): SimpleCommand[] {
    const prefixAssigns = c.prefix.filter((p) => p.type === "Assignment");
    const words = [...(c.name ? [c.name] : []), ...c.suffix.filter((s) => s.type === "Word" || s.type === "Assignment")];
    const ev = this.evaluate([...prefixAssigns, ...words], c.redirects, src, c, ctx);
    const argv = ev.argv.slice(prefixAssigns.length);
    const assigns = ev.assigns.slice(0, prefixAssigns.length);
    if (!c.name) {
      // Bare assignments persist for later commands (`cmd=rm; $cmd -rf x`).
      prefixAssigns.forEach((a, i) => {
        const v = ev.argv[i];
        if (v?.known) this.env.set(a.name, { value: assigns[i]?.value ?? "", markers: v.markers ?? [] });
        else this.env.delete(a.name);
      });
    }
    if (argv.length > 0 && DECLARE.has(argv[0]?.value ?? "")) {
      for (const a of ev.assigns.slice(prefixAssigns.length)) {
        this.env.set(a.name, { value: a.value, markers: [] });
        assigns.push(a);
      }
    }
    if (argv.length === 0 && ev.redirects.length === 0) return ev.subsProduced;
    const made = this.finish(argv, { ...ev, assigns }, ctx, c);
    return [...made, ...ev.subsProduced];
  }

  /** Build the simple command from its argv (after evaluation), then follow any nested programs. */
  private finish(argv0: Arg[], ev: Evaluated, ctx: Ctx, node?: object): SimpleCommand[] {
    const un = unwrap(argv0);
    const produced: SimpleCommand[] = [];
    // What a shell run by xargs runs also takes its arguments from xargs' input.
    const via: Marker[] = un.xargs ? ["xargs"] : [];
    const nestedCtx = (marker: Marker, extra: readonly Marker[] = []) => nestedIn(ctx, marker, [...extra, ...via]);
    const follow = (s: NestedScript): void => {
      if (s.known) produced.push(...this.withParams(s.params, () => this.source(s.text, nestedCtx(s.marker, s.markers))));
    };
    un.scripts.forEach(follow);
    const stdin = ev.stdin ?? ctx.stdin;
    const argv = this.inputArgv(un, stdin, ctx);
    const head = argv[0];
    const path = head?.value ?? "";
    const name = head ? basename(path) : "";
    const args = this.pushRemote(name, this.inDirectory(name, argv.slice(1)));
    const parsed = parseArgs(name, args.map((a) => a.value));
    const markers = commandMarkers(ctx.markers, ev.ifs, head, path);
    const program = programOf(name, args, stdin?.value);
    const fx = effects(name, parsed, ev.redirects);
    const sc: SimpleCommand = {
      text: ev.text,
      name,
      path,
      nameKnown: head?.known ?? true,
      args: args.map((a) => a.value),
      argKnown: args.map((a) => a.known),
      redirects: ev.redirects,
      assigns: [...ev.assigns, ...un.assigns],
      vars: ev.vars,
      argSources: ev.argSources,
      wrappers: un.wrappers,
      markers,
      upstream: [],
      downstream: [],
      stdinProgram: program.stdinProgram,
      flags: parsed.flags,
      options: parsed.options,
      positionals: parsed.positionals,
      reads: fx.reads,
      writes: fx.writes,
      depth: ctx.depth,
      ...(stdin ? { stdinText: stdin.value } : {}),
      ...(program.code ? { code: program.code } : {}),
    };
    if (head || ev.redirects.length > 0) {
      this.commands.push(sc);
      produced.unshift(sc);
    }
    if (!head) return produced;
    this.trackDownloads(sc);
    const staged = node && argv.every((a) => a.known) ? staticStage(name, sc.args, stdin) : undefined;
    const out = staged && this.budget.fits(staged.value.length) ? staged : undefined;
    if (out && node) this.staticOut.set(node, out);
    if (out) this.rememberWritten(sc, out);
    const script = this.writtenScript(sc);
    if (script) produced.push(...this.source(script.value, nestedCtx("written_script", script.markers)));
    const nested = nestedOf(argv);
    for (const s of nested.scripts) {
      if (!s.known && !ENV_SETUP.test(s.text)) markers.add("dynamic_program");
      follow(s);
    }
    for (const a of nested.argvs) {
      const inner: Evaluated = { ...ev, redirects: [], assigns: [], argSources: [], vars: [], heredoc: false };
      produced.push(...this.finish(this.placeListing(a, sc, ctx, stdin), inner, nestedCtx(a.marker)));
    }
    produced.push(...this.programsRead(name, program, ev, stdin ?? (ctx.stdinTemplate !== undefined ? { value: ctx.stdinTemplate, markers: [] } : undefined), nestedCtx));
    return produced;
  }

  /**
   * What a nested command's input placeholders stand for: parallel's items come from stdin, a listing of a known
   * place (`git ls-files | parallel rm`); find -exec's `{}` is each file find lists (`find . -exec rm -rf {} +`).
   */
  private placeListing(a: { argv: Arg[]; marker: Marker }, sc: SimpleCommand, ctx: Ctx, stdin: VarValue | undefined): Arg[] {
    if (a.marker === "find_exec") {
      const found = listingOf(sc) ?? UNKNOWN_INPUT;
      // fd appends the path when the command has no `{}`.
      if (sc.name !== "find" && !a.argv.some((x, i) => i > 0 && x.value.includes("{}"))) return [...a.argv, { value: found, known: false }];
      return a.argv.map((x, i) => (i > 0 && x.value.includes("{}") ? { ...x, value: x.value.split("{}").join(found) } : x));
    }
    // Known stdin (`echo ~ | parallel rm -rf {}`): one argument per line, as xargs places them.
    const lines = stdin?.value.split("\n").filter((l) => l.trim() !== "") ?? [];
    if (lines.length > 0 && lines.length <= MAX_INPUT_ITEMS) {
      return a.argv.flatMap((x) => (x.value.includes(UNKNOWN_INPUT) ? lines.map((l) => ({ ...x, value: x.value.split(UNKNOWN_INPUT).join(l.trim()) })) : [x]));
    }
    const listing = ctx.stdinListing;
    return listing === undefined ? a.argv : a.argv.map((x) => (x.value === UNKNOWN_INPUT ? { ...x, value: listing } : x));
  }

  /** Runs `walk` with `$0`, `$1` … `$9` and `$@` bound to `params` (`sh -c 'rm -rf "$1"' _ /`), then forgets them. */
  private withParams(params: readonly Arg[] | undefined, walk: () => SimpleCommand[]): SimpleCommand[] {
    if (params === undefined) return walk();
    const names = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "@", "*"];
    const value = (a: Arg): VarValue => ({ value: a.value, markers: a.markers ?? [], ...(a.known ? {} : { unknown: true }) });
    const rest = params.slice(1);
    params.slice(0, 10).forEach((a, i) => this.env.set(String(i), value(a)));
    if (rest.length > 0) {
      const all = { value: rest.map((a) => a.value).join(" "), known: rest.every((a) => a.known), markers: rest.flatMap((a) => a.markers ?? []) };
      this.env.set("@", value(all));
      this.env.set("*", value(all));
    }
    try {
      return walk();
    } finally {
      for (const n of names) this.env.delete(n);
    }
  }

  /** Programs a command reads from stdin (a shell) or carries inline (`python -c` exec strings). */
  private programsRead(
    name: string,
    program: ReturnType<typeof programOf>,
    ev: Evaluated,
    stdin: VarValue | undefined,
    nestedCtx: (marker: Marker, extra?: readonly Marker[]) => Ctx,
  ): SimpleCommand[] {
    const out: SimpleCommand[] = [];
    if (SHELLS.has(name) && program.stdinProgram && stdin) {
      const marker: Marker = ev.stdin && ev.heredoc ? "heredoc_program" : "pipe_program";
      out.push(...this.source(stdin.value, nestedCtx(marker, stdin.markers)));
    }
    if (program.code) {
      for (const s of execStrings(program.code)) out.push(...this.source(s, nestedCtx("interpreter")));
    }
    return out;
  }

  /** The argv a wrapper runs: with xargs, its input placed among the arguments (counted against the budget). */
  private inputArgv(un: ReturnType<typeof unwrap>, stdin: VarValue | undefined, ctx: Ctx): Arg[] {
    const argv = un.xargs ? placeInputs(un.argv, xargsItems(un.xargs, stdin, ctx.stdinListing), un.xargs.replace) : un.argv;
    if (un.xargs || ctx.markers.includes("xargs")) this.budget.spend(argv.reduce((n, a) => n + a.value.length, 0));
    return argv;
  }

  /** Follows `cd`; after `cd dir`, what `rm` is given relative to it is under dir (`cd dist && rm -rf *`). */
  private inDirectory(name: string, args: Arg[]): Arg[] {
    if (name === "cd") this.changeDirectory(args);
    const cwd = this.cwd;
    if (name !== "rm" || cwd === undefined) return args;
    return args.map((a) => (a.known && !/^([-/~$]|\.\.)/.test(a.value) ? { ...a, value: a.value === "." ? cwd : `${cwd}/${a.value}` } : a));
  }

  /**
   * `git remote add x URL && git push x …` pushes to that URL: a remote this script added is replaced by its URL in a
   * later push, so the push is judged as `git push URL`.
   */
  private pushRemote(name: string, args: Arg[]): Arg[] {
    if (name !== "git") return args;
    const pos = parseArgs("git", args.map((a) => a.value)).positionals;
    const known = (v: string | undefined) => v !== undefined && args.some((a) => a.value === v && a.known);
    if (pos[0] === "remote" && pos[1] === "add" && known(pos[2]) && known(pos[3])) this.addedRemotes.set(pos[2] ?? "", pos[3] ?? "");
    const url = pos[0] === "push" ? this.addedRemotes.get(pos[1] ?? "") : undefined;
    if (url === undefined) return args;
    const push = args.findIndex((a) => a.value === "push");
    const r = args.findIndex((a, i) => i > push && a.value === pos[1]);
    return args.map((a, i) => (i === r ? { ...a, value: url } : a));
  }

  /** Follows `cd` with a known directory (relative ones from where the script started); `cd -` and the unknown forget it. */
  private changeDirectory(args: readonly Arg[]): void {
    const dir = args.find((a) => !a.value.startsWith("-") || a.value === "-");
    if (dir === undefined) this.cwd = "~";
    else if (!dir.known || dir.value === "-" || dir.value.includes("..")) this.cwd = undefined;
    else {
      const target = normalizePath(dir.value);
      this.cwd = /^[/~]/.test(target) || this.cwd === undefined ? target : normalizePath(`${this.cwd}/${target}`);
    }
  }

  /** `curl -o x URL && chmod +x x && ./x`: remember download targets, mark later execution of them. */
  private trackDownloads(sc: SimpleCommand): void {
    if (sc.name === "curl" || sc.name === "wget") for (const w of sc.writes) this.downloads.add(w);
    if (this.downloads.size === 0) return;
    const runsScript = SHELLS.has(sc.name) || languageOf(sc.name) !== undefined;
    const target = runsScript ? sc.positionals[0] : sc.path;
    if (target !== undefined && this.downloads.has(normalizePath(target))) sc.markers.add("runs_download");
  }

  private rememberWritten(sc: SimpleCommand, out: VarValue): void {
    for (const r of sc.redirects) {
      if (!r.known || (r.fd ?? 1) !== 1) continue;
      const path = normalizePath(r.target);
      if (r.op === ">" || r.op === ">|") this.written.set(path, out);
      else if (r.op === ">>") {
        const value = (this.written.get(path)?.value ?? "") + out.value;
        this.budget.spend(value.length);
        // Appending in a loop of statements must not grow without bound: past it the file's content is unknown.
        if (this.budget.fits(value.length)) this.written.set(path, { value, markers: out.markers });
        else this.written.delete(path);
      }
    }
  }

  /** `bash x.sh`, `sh ./x.sh`, `./x.sh` for a file written earlier in the same script. */
  private writtenScript(sc: SimpleCommand): VarValue | undefined {
    if (this.written.size === 0) return undefined;
    const target = SHELLS.has(sc.name) ? sc.positionals[0] : sc.path;
    return target === undefined ? undefined : this.written.get(normalizePath(target));
  }
}

/** The context of a program nested in another (a script it runs, a command it wraps): one level deeper, marked. */
function nestedIn(ctx: Ctx, marker: Marker, extra: readonly Marker[] = []): Ctx {
  return { depth: ctx.depth + 1, markers: [...new Set([...ctx.markers, marker, ...extra])] };
}
