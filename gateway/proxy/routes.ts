// What a provider route is (each dialect lists its own in dialects/<name>/routes.ts). Each route rebuilds the upstream path from validated
// parts, so path tricks in the client's URL (.., encoded slashes, absolute URLs) can never choose the destination.
import type { ProviderType } from "../config/providers.js";
import type { FormatCodec } from "../formats/codec.js";

export interface RouteDef {
  readonly id: string;
  readonly method: "POST" | "GET";
  /** Hono path patterns that dispatch to the route (its router decides which route runs). */
  readonly paths: readonly string[];
  /** The exact shape of the path, checked on the raw path after dispatch; its groups name the model and the mode. */
  readonly pattern: RegExp;
  readonly format: FormatCodec;
  readonly providerTypes: readonly ProviderType[];
  /** Query parameters forwarded upstream; everything else (e.g. `key=`) is dropped. */
  readonly query: readonly string[];
  /** Free operations (token counting) cost 0 rather than an estimate. */
  readonly billable: boolean;
  /** The upstream path for a match. Receives the validated model when the model is part of the path. */
  upstreamPath(match: RegExpExecArray, model: string): string;
  /** The model named in the path, if the route puts it there. */
  readonly modelFromPath?: (match: RegExpExecArray) => string;
  readonly streamFromPath?: (match: RegExpExecArray) => boolean;
}

/**
 * The paths a dialect's API owns, routes or not: an error raised before a route is known (foreign host, identity,
 * body limit, no such route) is answered there in the dialect's own shape (`format.errorResponse`).
 */
export interface DialectPaths {
  readonly under: RegExp;
  readonly format: FormatCodec;
}

export interface RouteMatch {
  readonly route: RouteDef;
  readonly match: RegExpExecArray;
}

/** Bedrock ARNs (application inference profiles, provisioned models): one slash, percent-encoded in any path. */
const BEDROCK_ARN = String.raw`arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{0,12}:[a-z-]+\/[A-Za-z0-9._:+-]+`;
/** Model ids: no slashes (but a Bedrock ARN's), no dot-segments, no control or URL-special characters. */
export const SAFE_MODEL = new RegExp(String.raw`^(?:(?!\.{1,2}$)[A-Za-z0-9][A-Za-z0-9._:@+-]*|${BEDROCK_ARN})$`);
export const GEMINI_MODEL = /^(?!\.{1,2}$)[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Vertex ids carry a version after "@" (claude-sonnet-4-6). */
export const VERTEX_MODEL = /^(?!\.{1,2}$)[A-Za-z0-9][A-Za-z0-9._@-]*$/;
/** Bedrock ids (us.anthropic.claude-…-v1:0) or ARNs, as decoded from the path. */
export const BEDROCK_MODEL = new RegExp(String.raw`^(?:(?!\.{1,2}$)[A-Za-z0-9][A-Za-z0-9._:-]*|${BEDROCK_ARN})$`);

/** The longest model id accepted (the longest real ones, Bedrock ARNs, stay well under it). */
export const MAX_MODEL_LENGTH = 256;

/** Why a model id is refused, or null: too long, or characters outside `allowed`. Messages quote a bounded prefix. */
export function modelProblem(model: string, allowed: RegExp = SAFE_MODEL): string | null {
  if (model.length > MAX_MODEL_LENGTH) return `model "${model.slice(0, 64)}…" is ${model.length} characters long; the limit is ${MAX_MODEL_LENGTH}`;
  if (!allowed.test(model)) return `model "${model.slice(0, 200)}" contains characters keyless does not forward`;
  return null;
}

export function decodedSegment(raw: string, allowed: RegExp): string {
  // Checked before decoding too: percent-encoding makes a segment up to three times longer than the id.
  if (raw.length > MAX_MODEL_LENGTH * 3) throw new RouteError(modelProblem(raw, allowed)!);
  let model: string;
  try {
    model = decodeURIComponent(raw);
  } catch {
    throw new RouteError(`model "${raw.slice(0, 200)}" is not valid percent-encoding`);
  }
  const problem = modelProblem(model, allowed);
  if (problem) throw new RouteError(problem);
  return model;
}

export class RouteError extends Error {}
