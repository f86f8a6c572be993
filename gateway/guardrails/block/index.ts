// Blockers by wire format. A format without one records findings but cannot block.
import type { FormatId } from "../../formats/codec.js";
import { anthropicBlocker } from "./anthropic.js";
import { converseBlocker } from "./bedrock-converse.js";
import { bedrockInvokeBlocker } from "./bedrock-invoke.js";
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
  "bedrock-invoke": bedrockInvokeBlocker,
  "bedrock-converse": converseBlocker,
};
