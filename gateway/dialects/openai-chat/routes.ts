// OpenAI Chat Completions.
import { type RouteDef } from "../../proxy/routes.js";
import { openaiChat } from "./codec.js";

export const openaiChatRoutes: readonly RouteDef[] = [
  {
    id: "openai.chat",
    paths: ["/v1/chat/completions"],
    method: "POST",
    pattern: /^\/v1\/chat\/completions$/,
    format: openaiChat,
    providerTypes: ["openai"],
    query: [],
    billable: true,
    upstreamPath: () => "/v1/chat/completions",
  },
];
