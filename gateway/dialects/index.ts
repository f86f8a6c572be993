// Every dialect keyless speaks: its routes (registered on the app's router in this order), the paths whose errors it
// shapes, and its tool-call blocker. A dialect without a blocker records findings but cannot block.
import type { Blocker } from "../formats/blocker.js";
import { type FormatId, type GatewayError, statusOf } from "../formats/codec.js";
import type { DialectPaths, RouteDef } from "../proxy/routes.js";
import { anthropicBlocker } from "./anthropic/blocker.js";
import { anthropicPaths, anthropicRoutes } from "./anthropic/routes.js";
import { converseBlocker } from "./bedrock-converse/blocker.js";
import { bedrockConverseRoutes } from "./bedrock-converse/routes.js";
import { bedrockInvokeBlocker } from "./bedrock-invoke/blocker.js";
import { bedrockInvokeRoutes, bedrockPaths } from "./bedrock-invoke/routes.js";
import { geminiBlocker } from "./gemini/blocker.js";
import { geminiPaths, geminiRoutes } from "./gemini/routes.js";
import { chatBlocker } from "./openai-chat/blocker.js";
import { openaiChatRoutes } from "./openai-chat/routes.js";
import { responsesBlocker } from "./openai-responses/blocker.js";
import { openaiResponsesRoutes } from "./openai-responses/routes.js";
import { vertexAnthropicPaths, vertexAnthropicRoutes } from "./vertex-anthropic/routes.js";

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

/** Checked in this order; the first whose paths match shapes the error. */
const DIALECT_PATHS: readonly DialectPaths[] = [vertexAnthropicPaths, geminiPaths, bedrockPaths, anthropicPaths];

/**
 * An error raised before a route is known, in the shape of the dialect whose paths the request came to. OpenAI's paths
 * share /v1/ with keyless's own routes: they, and every other path, get an envelope both OpenAI's and Anthropic's SDKs
 * read (error.message).
 */
export function errorForPath(path: string, error: GatewayError): Response {
  const dialect = DIALECT_PATHS.find((d) => d.under.test(path));
  if (dialect) return dialect.format.errorResponse(error);
  const status = statusOf(error);
  return Response.json({ type: "error", error: { type: status === 404 ? "not_found_error" : "permission_error", message: error.message, code: null } }, { status });
}
