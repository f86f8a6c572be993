// Anthropic Messages, as Claude Code and the Anthropic SDK call it.
import type { DialectPaths, RouteDef } from "../../proxy/routes.js";
import { anthropicMessages } from "./codec.js";

export const anthropicRoutes: readonly RouteDef[] = [
  {
    id: "anthropic.messages",
    paths: ["/v1/messages"],
    method: "POST",
    pattern: /^\/v1\/messages$/,
    format: anthropicMessages,
    providerTypes: ["anthropic"],
    query: ["beta"],
    billable: true,
    upstreamPath: () => "/v1/messages",
  },
  {
    id: "anthropic.count_tokens",
    paths: ["/v1/messages/count_tokens"],
    method: "POST",
    pattern: /^\/v1\/messages\/count_tokens$/,
    format: anthropicMessages,
    providerTypes: ["anthropic"],
    query: ["beta"],
    billable: false,
    upstreamPath: () => "/v1/messages/count_tokens",
  },
];

export const anthropicPaths: DialectPaths = { under: /^\/v1\/messages/, format: anthropicMessages };
