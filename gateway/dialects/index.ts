// Every dialect keyless speaks: its routes (registered on the app's router in this order) and its tool-call blocker.
// A dialect without a blocker records findings but cannot block.
import type { Blocker } from "../formats/blocker.js";
import type { FormatId } from "../formats/codec.js";
import type { RouteDef } from "../proxy/routes.js";
import { anthropicBlocker } from "./anthropic/blocker.js";
import { anthropicRoutes } from "./anthropic/routes.js";
import { converseBlocker } from "./bedrock-converse/blocker.js";
import { bedrockConverseRoutes } from "./bedrock-converse/routes.js";
import { bedrockInvokeBlocker } from "./bedrock-invoke/blocker.js";
import { bedrockInvokeRoutes } from "./bedrock-invoke/routes.js";
import { geminiBlocker } from "./gemini/blocker.js";
import { geminiRoutes } from "./gemini/routes.js";
import { chatBlocker } from "./openai-chat/blocker.js";
import { openaiChatRoutes } from "./openai-chat/routes.js";
import { responsesBlocker } from "./openai-responses/blocker.js";
import { openaiResponsesRoutes } from "./openai-responses/routes.js";
import { vertexAnthropicRoutes } from "./vertex-anthropic/routes.js";

export const ROUTES: readonly RouteDef[] = [
  ...anthropicRoutes,
  ...openaiChatRoutes,
  ...openaiResponsesRoutes,
  ...geminiRoutes,
  ...vertexAnthropicRoutes,
  ...bedrockInvokeRoutes,
  ...bedrockConverseRoutes,
];

export const BLOCKERS: Partial<Record<FormatId, Blocker>> = {
  "anthropic-messages": anthropicBlocker,
  "openai-chat": chatBlocker,
  "openai-responses": responsesBlocker,
  gemini: geminiBlocker,
  "bedrock-invoke": bedrockInvokeBlocker,
  "bedrock-converse": converseBlocker,
};
