// OpenAI Responses (HTTP; the WebSocket variant is refused in app.ts so Codex falls back at once).
import { type RouteDef } from "../../proxy/routes.js";
import { openaiResponses } from "./codec.js";

export const openaiResponsesRoutes: readonly RouteDef[] = [
  {
    id: "openai.responses",
    paths: ["/v1/responses"],
    method: "POST",
    pattern: /^\/v1\/responses$/,
    format: openaiResponses,
    providerTypes: ["openai"],
    query: [],
    billable: true,
    upstreamPath: () => "/v1/responses",
  },
];
