// Blockers by wire format. Formats without one (Bedrock Converse) record findings but cannot block.
import type { FormatId } from "../../formats/codec.js";
import { anthropicBlocker } from "./anthropic.js";
import { geminiBlocker } from "./gemini.js";
import { chatBlocker } from "./openai-chat.js";
import { responsesBlocker } from "./openai-responses.js";
import type { Blocker } from "./types.js";

export type { Blocker, Verdict } from "./types.js";

export const BLOCKERS: Partial<Record<FormatId, Blocker>> = {
  "anthropic-messages": anthropicBlocker,
  "openai-chat": chatBlocker,
  "openai-responses": responsesBlocker,
  gemini: geminiBlocker,
};
