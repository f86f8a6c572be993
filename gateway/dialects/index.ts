// Blockers by wire format. A format without one records findings but cannot block.
import type { FormatId } from "../formats/codec.js";
import { anthropicBlocker } from "./anthropic/blocker.js";
import { converseBlocker } from "./bedrock-converse/blocker.js";
import { bedrockInvokeBlocker } from "./bedrock-invoke/blocker.js";
import { geminiBlocker } from "./gemini/blocker.js";
import { chatBlocker } from "./openai-chat/blocker.js";
import { responsesBlocker } from "./openai-responses/blocker.js";
import type { Blocker } from "../formats/blocker.js";

export type { Blocker, Verdict } from "../formats/blocker.js";

export const BLOCKERS: Partial<Record<FormatId, Blocker>> = {
  "anthropic-messages": anthropicBlocker,
  "openai-chat": chatBlocker,
  "openai-responses": responsesBlocker,
  gemini: geminiBlocker,
  "bedrock-invoke": bedrockInvokeBlocker,
  "bedrock-converse": converseBlocker,
};
