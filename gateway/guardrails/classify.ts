// Turns a tool call from any agent/wire shape into what it does: a shell command, an MCP call, a file edit,
// or some other function. Agent knowledge lives here (see shared reference agents.md §2–§4).
import type { ToolCall } from "../formats/types.js";
import { scanCodeMode } from "./codemode.js";
import { patchPaths } from "./patch.js";
import type { ClassifiedToolCall } from "./types.js";

export interface ClassifyOptions {
  /** Configured MCP server names, used to split Gemini's ambiguous `mcp_<server>_<tool>` names. */
  readonly mcpServers?: readonly string[];
}

type Obj = Record<string, unknown>;

function isObj(x: unknown): x is Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}
function str(x: unknown): string | undefined {
  return typeof x === "string" ? x : undefined;
}
function strArray(x: unknown): string[] | undefined {
  return Array.isArray(x) && x.length > 0 && x.every((s) => typeof s === "string") ? (x as string[]) : undefined;
}

const SHELL_NAMES = /^(?:.*\/)?(?:ba|z|da|k|a|mk)?sh$/;

function quote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** argv → one script: `["bash","-lc","…"]` unwraps to the script, anything else is shell-quoted. */
export function argvToScript(argv: readonly string[]): string {
  const [cmd, flag, script] = argv;
  if (cmd && SHELL_NAMES.test(cmd) && flag && /^-[a-z]*c[a-z]*$/.test(flag) && script !== undefined && argv.length === 3) {
    return script;
  }
  return argv.map(quote).join(" ");
}

/** Shell from the generic heuristics: a string command/cmd/script, or an argv array command/argv. */
function genericShell(input: Obj): string[] | undefined {
  for (const k of ["command", "cmd", "script"]) {
    const s = str(input[k]);
    if (s !== undefined) return [s];
  }
  for (const k of ["command", "argv"]) {
    const a = strArray(input[k]);
    if (a) return [argvToScript(a)];
  }
  return undefined;
}

function splitGeminiMcp(rest: string, servers: readonly string[] | undefined): { server: string; tool: string; ambiguous: boolean } {
  const known = [...(servers ?? [])].sort((a, b) => b.length - a.length).find((s) => rest.startsWith(`${s}_`));
  if (known) return { server: known, tool: rest.slice(known.length + 1), ambiguous: false };
  const i = rest.indexOf("_");
  if (i < 0) return { server: rest, tool: "", ambiguous: true };
  const tool = rest.slice(i + 1);
  return { server: rest.slice(0, i), tool, ambiguous: tool.includes("_") || rest.slice(0, i) === "" };
}

function shell(base: Partial<ClassifiedToolCall> & { name: string }, commands: string[], extra: Partial<ClassifiedToolCall> = {}): ClassifiedToolCall {
  return { ...base, kind: "shell", commands, ...extra };
}

/** A shell tool's command string: present → one command; missing or broken arguments → unknown. */
function script(s: string | undefined, unparsed: boolean): Pick<ClassifiedToolCall, "commands" | "unknownArgs"> {
  if (s === undefined) return { commands: [], unknownArgs: true };
  return unparsed ? { commands: [s], unknownArgs: true } : { commands: [s] };
}

function escalation(obj: Obj): Pick<ClassifiedToolCall, "sandboxEscalation"> {
  if (obj.dangerouslyDisableSandbox === true) return { sandboxEscalation: "dangerouslyDisableSandbox" };
  if (obj.sandbox_permissions === "require_escalated") return { sandboxEscalation: "require_escalated" };
  if (obj.with_escalated_permissions === true) return { sandboxEscalation: "with_escalated_permissions" };
  return {};
}

/** A call's input, looked at the ways the classifiers need. */
interface CallView {
  readonly base: { readonly name: string; readonly callId: string };
  readonly input: unknown;
  readonly obj: Obj;
  readonly unparsed: boolean;
  readonly action: Obj | undefined;
  /** Set when the input could not be parsed. */
  readonly unknown: { readonly unknownArgs?: true };
}

/** Calls recognised by their wire shape: provider-side tools, Responses built-ins, MCP namespaces and names. */
function byShape(call: ToolCall, { base, input, obj, unparsed, action }: CallView, opts: ClassifyOptions): ClassifiedToolCall | undefined {
  // Calls that run at the provider.
  if (call.shape === "mcp_tool_use" || call.shape === "mcp_call") {
    return { ...base, kind: "mcp", mcpServer: call.namespace ?? "", mcpTool: call.name, args: input, remote: true };
  }
  if (call.shape === "server_tool_use") {
    if (call.name === "bash_code_execution") return shell(base, [], { ...script(str(obj.command), unparsed), remote: true });
    if (call.name === "text_editor_code_execution" && str(obj.path)) {
      return { ...base, kind: "file_edit", paths: [str(obj.path) ?? ""], remote: true };
    }
    return { ...base, kind: "function", remote: true, args: input };
  }

  // Responses built-in items.
  if (call.shape === "local_shell_call") {
    const argv = strArray(action?.command) ?? strArray(obj.command);
    return shell(base, [], script(argv ? argvToScript(argv) : undefined, false));
  }
  if (call.shape === "shell_call") {
    const cmds = strArray(action?.commands) ?? strArray(obj.commands);
    return shell(base, cmds ?? [], cmds ? {} : { unknownArgs: true });
  }
  if (call.shape === "apply_patch_call") {
    const op = isObj(obj.operation) ? obj.operation : obj;
    const paths = [str(op.path), str(op.move_to), str(op.new_path)].filter((p): p is string => p !== undefined);
    return { ...base, kind: "file_edit", paths, ...(paths.length ? {} : { unknownArgs: true }) };
  }

  // MCP by namespace (Codex) or name (Claude Code `mcp__server__tool`, Gemini `mcp_server_tool`).
  if (call.namespace?.startsWith("mcp__")) {
    return withMcpShell({ ...base, kind: "mcp", mcpServer: call.namespace.slice(5), mcpTool: call.name, args: input });
  }
  const claudeMcp = /^mcp__(.+?)__(.+)$/.exec(call.name);
  if (claudeMcp) return withMcpShell({ ...base, kind: "mcp", mcpServer: claudeMcp[1] ?? "", mcpTool: claudeMcp[2] ?? "", args: input });
  if (call.name.startsWith("mcp_") && !call.name.startsWith("mcp__")) {
    const { server, tool, ambiguous } = splitGeminiMcp(call.name.slice(4), opts.mcpServers);
    return withMcpShell({ ...base, kind: "mcp", mcpServer: server, mcpTool: tool, args: input, ...(ambiguous ? { mcpNameAmbiguous: true } : {}) });
  }
  return undefined;
}

/** Calls recognised by the agents' tool names. */
function byName(call: ToolCall, { base, input, obj, unparsed, action, unknown }: CallView, opts: ClassifyOptions): ClassifiedToolCall | undefined {
  switch (call.name) {
    // Codex code mode: JavaScript calling nested tools.
    case "exec":
      if (typeof input === "string" && (call.namespace === "functions" || call.shape === "custom_tool_call" || call.shape === "chat_tool_call")) {
        return codeMode(call, input, opts);
      }
      break;
    case "apply_patch": {
      const text = typeof input === "string" ? input : (str(obj.input) ?? str(obj.patch));
      if (text !== undefined) return { ...base, kind: "file_edit", paths: patchPaths(text) };
      return { ...base, kind: "file_edit", paths: [], unknownArgs: true };
    }
    case "Bash":
      return shell(base, [], {
        ...script(str(obj.command), unparsed),
        ...escalation(obj),
        ...(obj.run_in_background === true ? { background: true } : {}),
      });
    case "exec_command":
      return shell(base, [], { ...script(str(obj.cmd), unparsed), ...escalation(obj) });
    case "write_stdin": {
      const chars = str(obj.chars) ?? "";
      return shell(base, chars === "" ? [] : [chars], { shellInput: "stdin", ...unknown });
    }
    case "shell":
    case "container.exec":
    case "local_shell": {
      const argv = strArray(obj.command) ?? strArray(action?.command);
      if (argv?.[0] === "apply_patch" && argv[1] !== undefined) return { ...base, kind: "file_edit", paths: patchPaths(argv[1]) };
      return shell(base, [], { ...script(argv ? argvToScript(argv) : str(obj.command), unparsed), ...escalation(obj) });
    }
    case "shell_command":
    case "run_shell_command":
      return shell(base, [], {
        ...script(str(obj.command), unparsed),
        ...escalation(obj),
        ...(obj.is_background === true ? { background: true } : {}),
      });
    case "Edit":
    case "Write":
    case "MultiEdit":
    case "write_file":
    case "replace":
    case "edit":
      if (str(obj.file_path)) return { ...base, kind: "file_edit", paths: [str(obj.file_path) ?? ""] };
      break;
    case "NotebookEdit":
      if (str(obj.notebook_path)) return { ...base, kind: "file_edit", paths: [str(obj.notebook_path) ?? ""] };
      break;
    case "Read":
    case "read_file":
    case "read_many_files": {
      const paths = [str(obj.file_path), str(obj.absolute_path), str(obj.path), ...(strArray(obj.paths) ?? [])].filter(
        (p): p is string => p !== undefined,
      );
      if (paths.length) return { ...base, kind: "function", readPaths: paths, args: input };
      break;
    }
  }
  return undefined;
}

export function classifyToolCall(call: ToolCall, opts: ClassifyOptions = {}): ClassifiedToolCall {
  const input = call.input;
  const obj: Obj = isObj(input) ? input : {};
  const unparsed = isObj(input) && typeof input._unparsed === "string";
  const view: CallView = {
    base: { name: call.name, callId: call.id },
    input,
    obj,
    unparsed,
    action: isObj(obj.action) ? obj.action : undefined,
    unknown: unparsed ? { unknownArgs: true } : {},
  };
  const known = byShape(call, view, opts) ?? byName(call, view, opts);
  if (known) return known;
  const { base, unknown } = view;
  const generic = isObj(input) ? genericShell(input) : undefined;
  if (generic) return shell(base, generic, unknown);
  return { ...base, kind: "function", args: input, ...unknown };
}

/** MCP tools that take a shell command (`run_command {command}`) are analysed as shell too. */
function withMcpShell(c: ClassifiedToolCall): ClassifiedToolCall {
  const cmds = isObj(c.args) ? genericShell(c.args) : undefined;
  return cmds ? { ...c, commands: cmds } : c;
}

function codeMode(call: ToolCall, source: string, opts: ClassifyOptions): ClassifiedToolCall {
  const scan = scanCodeMode(source);
  const nested = scan.calls.map((c, i): ClassifiedToolCall => {
    const id = `${call.id}#${i}`;
    if (c.name === undefined) return { kind: "function", name: "?", callId: id, unknownArgs: true };
    const inner = classifyToolCall({ id, name: c.name, shape: "function_call", input: c.input, index: call.index }, opts);
    return c.unknownArgs ? { ...inner, unknownArgs: true } : inner;
  });
  return {
    kind: "function",
    name: call.name,
    callId: call.id,
    nested,
    ...(scan.parseError !== undefined ? { unknownArgs: true } : {}),
  };
}
