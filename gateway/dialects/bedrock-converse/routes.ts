// Amazon Bedrock Converse.
import { type RouteDef, decodedSegment, BEDROCK_MODEL } from "../../proxy/routes.js";
import { bedrockConverse } from "./codec.js";
import { BEDROCK_RUNTIME } from "../bedrock-invoke/routes.js";

export const bedrockConverseRoutes: readonly RouteDef[] = [
  {
    id: "bedrock.converse",
    paths: [...BEDROCK_RUNTIME],
    method: "POST",
    pattern: /^(?:\/bedrock)?\/model\/([^/]+)\/(converse|converse-stream)$/,
    format: bedrockConverse,
    providerTypes: ["bedrock"],
    query: [],
    billable: true,
    modelFromPath: (m) => decodedSegment(m[1] ?? "", BEDROCK_MODEL),
    streamFromPath: (m) => m[2] === "converse-stream",
    upstreamPath: (m, model) => `/model/${encodeURIComponent(model)}/${m[2]}`,
  },
];
