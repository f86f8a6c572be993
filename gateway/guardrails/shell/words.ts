// Best-effort static value of a shell word: quotes removed, known variables substituted, ${IFS} split,
// and a record of everything that is not a literal (expansions, substitutions) so it is never taken as safe.
import type { ArithmeticExpression, DoubleQuotedChild, ParsedScript, TestExpression, Word, WordPart } from "unbash";
import type { Budget } from "./budget.js";
import type { Marker } from "./types.js";

export interface VarValue {
  readonly value: string;
  readonly markers: readonly Marker[];
  /** Stands for input nobody knows statically (a loop over a listing binds `/*`): the word is not known. */
  readonly unknown?: boolean;
}
/** Literal assignments seen earlier in the script (`cmd=rm`), used to resolve `$cmd`. */
export type Env = Map<string, VarValue>;

export interface Substitution {
  readonly script: ParsedScript;
  readonly text: string;
}

/** Statically known output of a substitution (`$(echo … | base64 -d)`), supplied by the walker. */
export type SubResolver = (script: ParsedScript) => VarValue | undefined;

export interface WordValue {
  /** Fields after splitting on ${IFS} and on whitespace in unquoted substituted values. */
  readonly fields: string[];
  readonly value: string;
  /** Every part was resolved statically. */
  readonly known: boolean;
  /** Quotes or backslash escapes appear in the word. */
  readonly quoted: boolean;
  readonly ansiC: boolean;
  readonly ifs: boolean;
  /** A variable from the script's own assignments was substituted. */
  readonly fromVar: boolean;
  /** A parameter expansion that rewrites its value (`${x:0:0}`, `${x//a/b}`, `${!x}`), a classic disguise. */
  readonly trick: boolean;
  readonly vars: string[];
  readonly subs: Substitution[];
  readonly markers: Marker[];
}

class WordBuilder {
  fields: string[] = [];
  cur = "";
  open = false;
  known = true;
  quoted = false;
  ansiC = false;
  ifs = false;
  fromVar = false;
  trick = false;
  vars: string[] = [];
  subs: Substitution[] = [];
  markers: Marker[] = [];
  /** Characters in the word so far; past the budget's value bound the rest is dropped and the word is unknown. */
  private size = 0;
  private oversize = false;

  constructor(
    private readonly env: Env,
    private readonly resolve: SubResolver,
    private readonly budget: Budget,
  ) {}

  text(s: string): void {
    this.open = true;
    if (s === "") return;
    this.budget.spend(s.length);
    this.size += s.length;
    if (this.oversize) return;
    if (this.budget.fits(this.size)) {
      this.cur += s;
      return;
    }
    this.oversize = true;
    this.known = false;
  }

  /** Markers are a set: a variable spliced twice (`a=$a$a`) must not double them. */
  mark(list: readonly Marker[]): void {
    for (const m of list) if (!this.markers.includes(m)) this.markers.push(m);
  }

  split(): void {
    if (this.open) this.fields.push(this.cur);
    this.cur = "";
    this.open = false;
  }

  /** Substituted text: unquoted values undergo field splitting like the shell would. */
  spliced(s: string, quoted: boolean): void {
    if (quoted) return this.text(s);
    const pieces = s.split(/[ \t\n]+/);
    pieces.forEach((p, i) => {
      if (i > 0) this.split();
      if (p !== "") this.text(p);
    });
  }

  param(name: string, raw: string, simple: boolean, quoted: boolean): void {
    if (name === "IFS" && simple) {
      this.ifs = true;
      return quoted ? this.text(" ") : this.split();
    }
    if (name === "HOME" && simple) return this.text("~");
    const v = simple ? this.env.get(name) : undefined;
    if (v) {
      this.fromVar = true;
      this.mark(v.markers);
      if (v.unknown) {
        this.known = false;
        this.vars.push(name);
      }
      return this.spliced(v.value, quoted);
    }
    this.known = false;
    // `${!v}` with v known refers to the variable v names (`v=GITHUB_TOKEN; echo "${!v}"`).
    const indirect = /^\$\{!(\w+)\}$/.exec(raw)?.[1];
    const target = indirect === undefined ? undefined : this.env.get(indirect)?.value;
    if (target !== undefined && /^\w+$/.test(target)) this.vars.push(target);
    // `${#X}` (its length) and `${X:+word}` (word if set) never show X's value: not a reference to it.
    else if (!/^\$\{(#\w+\}|\w+:?\+)/.test(raw)) this.vars.push(name);
    this.text(raw);
  }

  substitution(script: ParsedScript | undefined, raw: string, quoted: boolean): void {
    const out = script ? this.resolve(script) : undefined;
    if (script) this.subs.push({ script, text: raw });
    if (out) {
      this.mark(out.markers);
      return this.spliced(out.value.replace(/\n+$/, ""), quoted);
    }
    this.known = false;
    this.text(raw);
  }

  arithmetic(e: ArithmeticExpression | undefined): void {
    if (!e) return;
    this.budget.step();
    switch (e.type) {
      case "ArithmeticCommandExpansion":
        if (e.script) this.subs.push({ script: e.script, text: e.text });
        return;
      case "ArithmeticBinary":
        this.arithmetic(e.left);
        return this.arithmetic(e.right);
      case "ArithmeticUnary":
        return this.arithmetic(e.operand);
      case "ArithmeticTernary":
        this.arithmetic(e.test);
        this.arithmetic(e.consequent);
        return this.arithmetic(e.alternate);
      case "ArithmeticGroup":
        return this.arithmetic(e.expression);
      case "ArithmeticWord":
        return;
    }
  }

  part(p: WordPart | DoubleQuotedChild, quoted: boolean): void {
    this.budget.step();
    switch (p.type) {
      case "Literal":
        if (p.text !== p.value) this.quoted = true;
        return this.text(p.value);
      case "SingleQuoted":
        this.quoted = true;
        return this.text(p.value);
      case "AnsiCQuoted":
        this.quoted = true;
        if (p.text.includes("\\")) this.ansiC = true;
        return this.text(p.value);
      case "DoubleQuoted":
      case "LocaleString":
        this.quoted = true;
        this.text("");
        for (const c of p.parts) this.part(c, true);
        return;
      case "Glob":
      case "ExtendedGlob":
      case "BraceExpansion":
        return this.text(p.text);
      case "SimpleExpansion":
        return this.param(p.text.slice(1), p.text, true, quoted);
      case "ParameterExpansion": {
        const op = p.operation?.type;
        if (p.prefix === "!" || (op !== undefined && op !== "Default")) this.trick = true;
        return this.param(p.parameter, p.text, !p.operation && !p.prefix && !p.index, quoted);
      }
      // The parser reads a substitution's text only when its script is first asked for: count it before asking.
      case "CommandExpansion":
        this.budget.spend(p.text.length);
        return this.substitution(p.script, p.text, quoted);
      case "ProcessSubstitution":
        this.budget.spend(p.text.length);
        return this.substitution(p.script, p.text, true);
      case "ArithmeticExpansion":
        this.budget.spend(p.text.length);
        this.known = false;
        this.arithmetic(p.expression);
        return this.text(p.text);
    }
  }
}

export function evalWord(word: Word, env: Env, resolve: SubResolver, budget: Budget): WordValue {
  budget.step();
  const b = new WordBuilder(env, resolve, budget);
  if (!word.parts || word.parts.length === 0) {
    if (word.text !== word.value) b.quoted = true;
    b.text(word.value);
  } else {
    for (const p of word.parts) b.part(p, false);
  }
  b.split();
  return {
    fields: b.fields,
    value: b.fields.join(" "),
    known: b.known,
    quoted: b.quoted,
    ansiC: b.ansiC,
    ifs: b.ifs,
    fromVar: b.fromVar,
    trick: b.trick,
    vars: b.vars,
    subs: b.subs,
    markers: b.markers,
  };
}

/** Words of a `[[ … ]]` test expression (for the substitutions inside them). */
export function testWords(e: TestExpression): Word[] {
  switch (e.type) {
    case "TestUnary":
      return [e.operand];
    case "TestBinary":
      return [e.left, e.right];
    case "TestLogical":
      return e.operands.flatMap(testWords);
    case "TestNot":
      return testWords(e.operand);
    case "TestGroup":
      return testWords(e.expression);
  }
}
