// The admin's draft of the config file. Every form edit is a jsonc-parser `modify` of the HuJSON text (comments,
// order and layout elsewhere untouched), so the text stays the single state: the forms are drawn from it and the
// raw view shows it.
import { type FormattingOptions, type JSONPath, applyEdits, modify, parse } from "jsonc-parser";

export type Json = Record<string, unknown>;

/** What changed: a form field (forms stay), a structure (forms are redrawn), the raw text, or a new base. */
export type ChangeKind = "field" | "structure" | "raw" | "reset";

export interface ConfigFile {
  readonly text: string;
  readonly hash: string;
}

/** The file's own indentation and line ends, so inserted lines look like their neighbours. */
function formattingOf(text: string): FormattingOptions {
  const indent = /^([ \t]+)\S/m.exec(text)?.[1] ?? "  ";
  const eol = text.includes("\r\n") ? "\r\n" : "\n";
  return indent.startsWith("\t") ? { insertSpaces: false, tabSize: 1, eol } : { insertSpaces: true, tabSize: indent.length, eol };
}

export class Draft {
  private listeners: ((kind: ChangeKind) => void)[] = [];

  constructor(
    /** The file as read from the gateway: what a save's hash refers to and the diff starts from. */
    public base: ConfigFile,
    public text: string = base.text,
  ) {}

  get dirty(): boolean {
    return this.text !== this.base.text;
  }

  /** The text parsed leniently (a half-typed raw edit still yields what it can); non-objects read as {}. */
  value(): Json {
    const parsed: unknown = parse(this.text, [], { allowTrailingComma: true, disallowComments: false });
    return isObject(parsed) ? parsed : {};
  }

  /** Sets (or, with undefined, removes) the value at `path`; -1 as the last segment appends to an array. */
  set(path: JSONPath, value: unknown, kind: ChangeKind = "field"): void {
    const edits = modify(this.text, path, value, { formattingOptions: formattingOf(this.text), isArrayInsertion: path.at(-1) === -1 });
    this.text = applyEdits(this.text, edits);
    this.emit(kind);
  }

  replace(text: string): void {
    this.text = text;
    this.emit("raw");
  }

  reset(base: ConfigFile, text: string = base.text): void {
    this.base = base;
    this.text = text;
    this.emit("reset");
  }

  onChange(listener: (kind: ChangeKind) => void): void {
    this.listeners.push(listener);
  }

  private emit(kind: ChangeKind): void {
    for (const l of this.listeners) l(kind);
  }
}

export const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
export const asObject = (v: unknown): Json => (isObject(v) ? v : {});
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const asString = (v: unknown): string => (typeof v === "string" ? v : "");
/** A string or a list of strings, as "a, b". */
export const asList = (v: unknown): string => (typeof v === "string" ? v : asArray(v).filter((x) => typeof x === "string").join(", "));
