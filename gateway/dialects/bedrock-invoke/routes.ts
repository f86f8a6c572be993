// Amazon Bedrock InvokeModel (Anthropic bodies).
import { type DialectPaths, type RouteDef, decodedSegment, BEDROCK_MODEL } from "../../proxy/routes.js";
import { bedrockInvoke } from "./codec.js";

/** Under /bedrock (ANTHROPIC_BEDROCK_BASE_URL=<gateway>/bedrock) and at the root. */
export const BEDROCK_RUNTIME = ["/model/:model/:action", "/bedrock/model/:model/:action"];

export const bedrockInvokeRoutes: readonly RouteDef[] = [
  // Amazon Bedrock runtime, under /bedrock (ANTHROPIC_BEDROCK_BASE_URL=<gateway>/bedrock) and at the root. The AWS SDK
  // sends ":" as %3A, Anthropic's SDK and Claude Code send it raw; upstream always gets one encoding, the one signed.
  {
    id: "bedrock.invoke",
    paths: [...BEDROCK_RUNTIME],
    method: "POST",
    pattern: /^(?:\/bedrock)?\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/,
    format: bedrockInvoke,
    providerTypes: ["bedrock"],
    query: [],
    billable: true,
    modelFromPath: (m) => decodedSegment(m[1] ?? "", BEDROCK_MODEL),
    streamFromPath: (m) => m[2] === "invoke-with-response-stream",
    upstreamPath: (m, model) => `/model/${encodeURIComponent(model)}/${m[2]}`,
  },
];

/**
 * Bedrock's runtime paths (Converse's too) under /bedrock and at the root, and its control plane's inference profiles
 * (proxy/bedrock-control.ts), which the same clients call.
 */
export const bedrockPaths: DialectPaths = { under: /^\/(bedrock\/|model\/|inference-profiles)/, format: bedrockInvoke };
