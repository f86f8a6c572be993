// Claude on Vertex AI.
import { type DialectPaths, type RouteDef, decodedSegment, VERTEX_MODEL } from "../../proxy/routes.js";
import { vertexAnthropic } from "./codec.js";

const VERTEX_ANTHROPIC = "/:version{v1|v1beta1}/projects/:project/locations/:location/publishers/anthropic/models/:call";

export const vertexAnthropicRoutes: readonly RouteDef[] = [
  // Vertex AI. The client's project and location are dropped: upstream paths are location-relative
  // ("/v1/publishers/…") and the vertex adapter inserts the configured project and region.
  {
    id: "vertex.anthropic.count_tokens",
    paths: [VERTEX_ANTHROPIC],
    method: "POST",
    pattern: /^\/(v1|v1beta1)\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/count-tokens:rawPredict$/,
    format: vertexAnthropic,
    providerTypes: ["vertex"],
    query: [],
    billable: false,
    upstreamPath: (m) => `/${m[1]}/publishers/anthropic/models/count-tokens:rawPredict`,
  },
  {
    id: "vertex.anthropic",
    paths: [VERTEX_ANTHROPIC],
    method: "POST",
    pattern: /^\/(v1|v1beta1)\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/([^/:]+):(rawPredict|streamRawPredict)$/,
    format: vertexAnthropic,
    providerTypes: ["vertex"],
    query: [],
    billable: true,
    modelFromPath: (m) => decodedSegment(m[2] ?? "", VERTEX_MODEL),
    streamFromPath: (m) => m[3] === "streamRawPredict",
    upstreamPath: (m, model) => `/${m[1]}/publishers/anthropic/models/${model}:${m[3]}`,
  },
  {
    id: "vertex.anthropic.count_tokens_method",
    paths: [VERTEX_ANTHROPIC],
    method: "POST",
    pattern: /^\/(v1|v1beta1)\/projects\/[^/]+\/locations\/[^/]+\/publishers\/anthropic\/models\/([^/:]+):countTokens$/,
    format: vertexAnthropic,
    providerTypes: ["vertex"],
    query: [],
    billable: false,
    modelFromPath: (m) => decodedSegment(m[2] ?? "", VERTEX_MODEL),
    upstreamPath: (m, model) => `/${m[1]}/publishers/anthropic/models/${model}:countTokens`,
  },
];

export const vertexAnthropicPaths: DialectPaths = { under: /\/publishers\/anthropic\//, format: vertexAnthropic };
