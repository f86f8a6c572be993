// What tool-call classification outputs: a tool call independent of the agent and wire shape it came in.

export type ToolKind = "shell" | "mcp" | "file_edit" | "function";

/** What a tool call does, independent of the agent and wire shape it came in. */
export interface ClassifiedToolCall {
  readonly kind: ToolKind;
  /** Tool name as called (`Bash`, `exec_command`, `mcp__db__query`, code-mode nested `exec_command`, …). */
  readonly name: string;
  readonly callId?: string;
  readonly mcpServer?: string;
  readonly mcpTool?: string;
  /** Gemini `mcp_<server>_<tool>` names cannot be split reliably; set when the split was a guess. */
  readonly mcpNameAmbiguous?: boolean;
  /** Shell scripts to analyse (usually one). Code-mode template expressions appear as `$__js<n>` variables. */
  readonly commands?: readonly string[];
  /** Files written, created, deleted or moved (file_edit). */
  readonly paths?: readonly string[];
  /** Files a read tool (Claude `Read`, Gemini `read_file`) opens. */
  readonly readPaths?: readonly string[];
  /** Some argument was not a literal (code mode) or the input could not be parsed. */
  readonly unknownArgs?: boolean;
  /** Runs at the provider (Anthropic server tools, hosted MCP), not on the CI runner. */
  readonly remote?: boolean;
  readonly background?: boolean;
  /** `stdin`: keystrokes into a running shell (Codex `write_stdin`). */
  readonly shellInput?: "stdin";
  /** The call asks to leave the agent's sandbox. */
  readonly sandboxEscalation?: "dangerouslyDisableSandbox" | "require_escalated" | "with_escalated_permissions";
  /** MCP/function arguments as given, for argument rules (SQL in MCP calls). */
  readonly args?: unknown;
  /** Codex code mode: the tool calls made inside the `exec` JavaScript. */
  readonly nested?: readonly ClassifiedToolCall[];
}
