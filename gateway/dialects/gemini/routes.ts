// Gemini, at Google AI paths and at Vertex AI paths (@google/genai in Vertex mode).
import { type DialectPaths, type RouteDef, decodedSegment, GEMINI_MODEL, VERTEX_MODEL } from "../../proxy/routes.js";
import { gemini } from "./codec.js";

/** Vertex paths, with projects/…/locations/… or without (express mode). */
const VERTEX_GOOGLE = ["/:version{v1|v1beta1}/projects/:project/locations/:location/publishers/google/models/:call", "/:version{v1|v1beta1}/publishers/google/models/:call"];

export const geminiRoutes: readonly RouteDef[] = [
  {
    id: "gemini.generate",
    paths: ["/:version{v1beta|v1}/models/:call"],
    method: "POST",
    pattern: /^\/(v1beta|v1)\/models\/([^/:]+):(generateContent|streamGenerateContent)$/,
    format: gemini,
    providerTypes: ["gemini"],
    query: ["alt"],
    billable: true,
    modelFromPath: (m) => decodedSegment(m[2] ?? "", GEMINI_MODEL),
    streamFromPath: (m) => m[3] === "streamGenerateContent",
    upstreamPath: (m, model) => `/${m[1]}/models/${model}:${m[3]}`,
  },
  {
    id: "gemini.count_tokens",
    paths: ["/:version{v1beta|v1}/models/:call"],
    method: "POST",
    pattern: /^\/(v1beta|v1)\/models\/([^/:]+):countTokens$/,
    format: gemini,
    providerTypes: ["gemini"],
    query: [],
    billable: false,
    modelFromPath: (m) => decodedSegment(m[2] ?? "", GEMINI_MODEL),
    upstreamPath: (m, model) => `/${m[1]}/models/${model}:countTokens`,
  },
  {
    // @google/genai in Vertex mode; without a project (express mode) it leaves out projects/…/locations/….
    id: "vertex.gemini.generate",
    paths: [...VERTEX_GOOGLE],
    method: "POST",
    pattern: /^\/(v1|v1beta1)\/(?:projects\/[^/]+\/locations\/[^/]+\/)?publishers\/google\/models\/([^/:]+):(generateContent|streamGenerateContent)$/,
    format: gemini,
    providerTypes: ["vertex"],
    query: ["alt"],
    billable: true,
    modelFromPath: (m) => decodedSegment(m[2] ?? "", VERTEX_MODEL),
    streamFromPath: (m) => m[3] === "streamGenerateContent",
    upstreamPath: (m, model) => `/${m[1]}/publishers/google/models/${model}:${m[3]}`,
  },
  {
    id: "vertex.gemini.count_tokens",
    paths: [...VERTEX_GOOGLE],
    method: "POST",
    pattern: /^\/(v1|v1beta1)\/(?:projects\/[^/]+\/locations\/[^/]+\/)?publishers\/google\/models\/([^/:]+):countTokens$/,
    format: gemini,
    providerTypes: ["vertex"],
    query: [],
    billable: false,
    modelFromPath: (m) => decodedSegment(m[2] ?? "", VERTEX_MODEL),
    upstreamPath: (m, model) => `/${m[1]}/publishers/google/models/${model}:countTokens`,
  },
];

/** Google AI's /v1beta/, and Vertex AI's publisher paths: Vertex answers in Google's shape whatever the publisher. */
export const geminiPaths: DialectPaths = { under: /^\/v1beta\/|\/publishers\//, format: gemini };
