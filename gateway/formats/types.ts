// What keyless reads out of every provider's traffic, in one provider-neutral shape.

/** Token counts normalized across providers. `input` excludes cache reads and writes; `reasoning` is part of `output`. */
export interface Usage {
  readonly input: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
  readonly output: number;
  readonly reasoning: number;
}

export const ZERO_USAGE: Usage = Object.freeze({ input: 0, cacheRead: 0, cacheWrite: 0, output: 0, reasoning: 0 });

/** The wire shape a tool call arrived in. */
export type ToolCallShape =
  | "tool_use" // Anthropic (direct, Vertex, Bedrock invoke)
  | "mcp_tool_use" // Anthropic MCP connector (runs at Anthropic)
  | "server_tool_use" // Anthropic server tools (run at Anthropic)
  | "converse_tool_use" // Bedrock Converse
  | "chat_tool_call" // OpenAI chat tool_calls (function or custom)
  | "function_call" // Responses
  | "custom_tool_call" // Responses (free text input, e.g. Codex apply_patch and code-mode exec)
  | "local_shell_call" // Responses
  | "shell_call" // Responses
  | "apply_patch_call" // Responses
  | "mcp_call" // Responses hosted MCP
  | "function_call_gemini"; // Gemini functionCall

/** One tool call a model asked for, as found in a response (streamed calls are assembled first). */
export interface ToolCall {
  /** Call id as the provider gave it (tool_use id, call_id, functionCall.id); synthesized "<responseId>#<n>" if absent. */
  readonly id: string;
  readonly name: string;
  /** Responses namespace (Codex: "mcp__<server>", "functions") or Anthropic MCP server name. */
  readonly namespace?: string;
  readonly shape: ToolCallShape;
  /**
   * Arguments: the parsed JSON object when the wire carries JSON (or a JSON string that parses),
   * the raw text for free-text tools (custom_tool_call input), or `{ _unparsed: "<text>" }` when JSON was promised but broken.
   */
  readonly input: unknown;
  /** Position of the call among the response's output blocks (content index / output_index / part index). */
  readonly index: number;
}

/** A tool result found in a request (the agent reporting back what a call did). */
export interface ToolResult {
  readonly callId: string;
  /** The tool's name, where the result carries one (Gemini functionResponse.name). */
  readonly name?: string;
  readonly isError: boolean;
  /** Result text, truncated for storage. */
  readonly output: string;
}

export interface ResponseSummary {
  readonly model?: string;
  readonly responseId?: string;
  readonly usage: Usage | null;
  readonly toolCalls: readonly ToolCall[];
  readonly stopReason?: string;
  /** A provider error seen in-band (e.g. SSE `event: error`, `response.failed`). */
  readonly error?: string;
  /** Tool calls the provider ran itself (web search, code execution, MCP), where the format lists them all. */
  readonly serverToolCalls?: number;
}
