// Claude on Vertex AI: Anthropic's bodies and SSE, Google's error envelope. Gemini on Vertex is the Gemini codec as is.
import { anthropicMessages } from "../anthropic/codec.js";
import type { FormatCodec } from "../../formats/codec.js";
import { googleError } from "../gemini/codec.js";

export const vertexAnthropic: FormatCodec = { ...anthropicMessages, errorResponse: googleError };
