// A fake Amazon Bedrock (runtime and control plane) and Google Vertex AI (with its OAuth token endpoint) on
// loopback. It checks what the real clouds check: Bedrock recomputes every SigV4 signature with the test secret
// (or accepts the test Bedrock API key); Vertex accepts only bearer tokens its token endpoint issued for the test
// service account, whose JWT assertion it verifies with jose. Answers are the byte-exact captured fixtures.
import { type ServerType, serve } from "@hono/node-server";
import type { HttpBindings } from "@hono/node-server";
import { Hono } from "hono";
import { type CryptoKey, type KeyObject, jwtVerify } from "jose";
import type { AddressInfo } from "node:net";
import { encodeMessage } from "../../gateway/stream/eventstream.js";
import { type AwsTestCredentials, verifySigV4 } from "./sigv4-verify.js";
import { capture, captureBytes } from "./fixtures.js";
import { type RecordedRequest, type Responder, sseResponse } from "./upstream.js";

export interface CloudRecord extends RecordedRequest {
  /** Raw request target as received (still percent-encoded). */
  readonly rawTarget: string;
  /** Vertex: project and location named in the path; Bedrock: decoded model id. */
  readonly project?: string;
  readonly location?: string;
  readonly modelId?: string;
}

export interface FakeCloudOptions {
  readonly aws: AwsTestCredentials & { readonly region: string; readonly apiKey?: string };
  readonly google?: {
    readonly clientEmail: string;
    readonly publicKey: CryptoKey | KeyObject;
    /** Express-mode API key. */
    readonly apiKey?: string;
  };
  /** Bytes per chunk for streamed bodies (odd sizes split event-stream frames); "frame": one frame per chunk, as AWS sends them. */
  readonly chunkSize?: number | "frame";
  /** Skip the signature and token checks (benchmarks, where the fake's own cost would blur the numbers). */
  readonly verify?: boolean;
}

export interface FakeCloud {
  readonly url: string;
  readonly tokenUrl: string;
  readonly requests: CloudRecord[];
  /** Token requests the token endpoint served. */
  readonly tokenGrants: string[];
  once(path: RegExp, responder: Responder): void;
  /** Lifetime of the tokens the token endpoint hands out from now on, in seconds (default 3600). */
  setTokenLifetime(seconds: number): void;
  close(): Promise<void>;
}

/** The Converse answer: a tool call and usage, as the AWS SDK's ConverseCommand output carries them. */
export const CONVERSE_RESPONSE = {
  output: { message: { role: "assistant", content: [{ toolUse: { toolUseId: "tooluse_fake02", name: "bash", input: { command: "echo hello" } } }] } },
  stopReason: "tool_use",
  usage: { inputTokens: 12, outputTokens: 7, totalTokens: 19, cacheReadInputTokens: 0, cacheWriteInputTokens: 0 },
  metrics: { latencyMs: 100 },
};

export const INFERENCE_PROFILES = [
  "us.anthropic.claude-sonnet-4-6-v1:0",
  "global.anthropic.claude-sonnet-4-6-v1:0",
  "us.meta.llama3-3-70b-instruct-v1:0",
].map((id) => ({
  inferenceProfileName: id,
  inferenceProfileArn: `arn:aws:bedrock:us-east-1:111122223333:inference-profile/${id}`,
  inferenceProfileId: id,
  models: [{ modelArn: `arn:aws:bedrock:us-east-1::foundation-model/${id.slice(id.indexOf(".") + 1)}` }],
  status: "ACTIVE",
  type: "SYSTEM_DEFINED",
  createdAt: "2025-09-29T00:00:00Z",
  updatedAt: "2025-09-29T00:00:00Z",
}));

export function chunked(bytes: Uint8Array, size: number | "frame", contentType: string, status = 200): Response {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < bytes.byteLength; ) {
        const n = size === "frame" ? view.getUint32(at) : size;
        controller.enqueue(bytes.slice(at, at + n));
        at += n;
      }
      controller.close();
    },
  });
  return new Response(stream, { status, headers: { "content-type": contentType } });
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
const awsError = (status: number, type: string, message: string) => json({ message }, status, { "x-amzn-ErrorType": type });
const googleError = (code: number, status: string, message: string) => json({ error: { code, message, status } }, code);

export async function startFakeCloud(options: FakeCloudOptions): Promise<FakeCloud> {
  const verify = options.verify ?? true;
  const chunkSize = options.chunkSize ?? 97;
  const requests: CloudRecord[] = [];
  const tokenGrants: string[] = [];
  const issued = new Map<string, number>();
  let tokenLifetime = 3600;
  const queued: { path: RegExp; responder: Responder }[] = [];
  let base = "";
  const app = new Hono<{ Bindings: HttpBindings }>();

  app.post("/token", async (c) => {
    const form = new URLSearchParams(await c.req.text());
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") return json({ error: "unsupported_grant_type" }, 400);
    try {
      if (!options.google) throw new Error("no service account");
      const { payload } = await jwtVerify(form.get("assertion") ?? "", options.google.publicKey, {
        issuer: options.google.clientEmail,
        audience: `${base}/token`,
        algorithms: ["RS256"],
      });
      if (!String(payload.scope ?? "").split(" ").includes("https://www.googleapis.com/auth/cloud-platform")) throw new Error("scope");
    } catch {
      return json({ error: "invalid_grant", error_description: "Invalid JWT Signature." }, 400);
    }
    const token = `ya29.fake-${tokenGrants.length + 1}-${Math.random().toString(36).slice(2)}`;
    issued.set(token, Date.now() + tokenLifetime * 1000);
    tokenGrants.push(token);
    return json({ access_token: token, expires_in: tokenLifetime, token_type: "Bearer" });
  });

  app.all("*", async (c) => {
    const rawTarget = c.env.incoming.url ?? "/";
    const url = new URL(c.req.url);
    const body = new Uint8Array(await c.req.arrayBuffer());
    const headers: Record<string, string> = {};
    c.req.raw.headers.forEach((v, k) => (headers[k] = v));
    const recorded: RecordedRequest = { method: c.req.method, path: url.pathname, query: url.search, headers, body: Buffer.from(body).toString("utf8") };

    const vertex = /^\/(v1|v1beta1)\/(?:projects\/([^/]+)\/locations\/([^/]+)\/)?publishers\/(anthropic|google)\/models\/([^/:]+):(\w+)$/.exec(url.pathname);
    const bedrock = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream|converse|converse-stream)$/.exec(url.pathname);
    const rec: CloudRecord = {
      ...recorded,
      rawTarget,
      ...(vertex?.[2] ? { project: vertex[2], location: vertex[3] } : {}),
      ...(bedrock ? { modelId: decodeURIComponent(bedrock[1]!) } : {}),
    };
    requests.push(rec);

    if (vertex) {
      if (verify && !vertexAuthorized(c.req.raw.headers, !vertex[2])) {
        return googleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.");
      }
      const i = queued.findIndex((q) => q.path.test(url.pathname));
      if (i !== -1) return queued.splice(i, 1)[0]!.responder(rec);
      return vertexAnswer(vertex[4]!, vertex[5]!, vertex[6]!, url.searchParams.get("alt") === "sse");
    }

    if (verify) {
      const apiKey = options.aws.apiKey;
      const bearerOk = apiKey !== undefined && c.req.header("authorization") === `Bearer ${apiKey}`;
      if (!bearerOk) {
        const verdict = verifySigV4({ method: c.req.method, rawTarget, headers: c.req.raw.headers, body }, options.aws, { region: options.aws.region, service: "bedrock" });
        if (!verdict.ok) return awsError(verdict.status, verdict.type, verdict.message);
      }
    }
    const i = queued.findIndex((q) => q.path.test(url.pathname));
    if (i !== -1) return queued.splice(i, 1)[0]!.responder(rec);
    if (bedrock) return bedrockAnswer(bedrock[2]!);
    if (c.req.method === "GET" && url.pathname === "/inference-profiles") {
      const type = url.searchParams.get("type");
      return json({ inferenceProfileSummaries: INFERENCE_PROFILES.filter((p) => !type || p.type === type) });
    }
    const one = /^\/inference-profiles\/([^/]+)$/.exec(url.pathname);
    if (c.req.method === "GET" && one) {
      const id = decodeURIComponent(one[1]!);
      const found = INFERENCE_PROFILES.find((p) => p.inferenceProfileId === id || p.inferenceProfileArn === id);
      return found ? json(found) : awsError(404, "ResourceNotFoundException", "The specified inference profile does not exist.");
    }
    return awsError(404, "UnknownOperationException", "Unknown operation");
  });

  /** Express mode (no project in the path) takes only the API key; everything else only an issued, live token. */
  function vertexAuthorized(headers: Headers, express: boolean): boolean {
    const bearer = /^Bearer (.+)$/.exec(headers.get("authorization") ?? "")?.[1];
    const apiKey = options.google?.apiKey;
    if (express) return apiKey !== undefined && headers.get("x-goog-api-key") === apiKey && !bearer;
    return bearer !== undefined && (issued.get(bearer) ?? 0) > Date.now();
  }

  function bedrockAnswer(operation: string): Response {
    switch (operation) {
      case "invoke":
        return new Response(capture("fixtures/anthropic-messages-tool_use.json"), { headers: { "content-type": "application/json" } });
      case "invoke-with-response-stream":
        return chunked(captureBytes("fixtures/bedrock-invoke-with-response-stream-tool_use.eventstream.bin"), chunkSize, "application/vnd.amazon.eventstream");
      case "converse":
        return json(CONVERSE_RESPONSE);
      default:
        return chunked(captureBytes("fixtures/bedrock-converse-stream-toolUse.eventstream.bin"), chunkSize, "application/vnd.amazon.eventstream");
    }
  }

  function vertexAnswer(publisher: string, model: string, method: string, sse: boolean): Response {
    if (publisher === "anthropic") {
      if (model === "count-tokens" || method === "countTokens") return json({ input_tokens: 42 });
      if (method === "streamRawPredict") return sseResponse(capture("fixtures/anthropic-messages-tool_use.sse"));
      return new Response(capture("fixtures/anthropic-messages-tool_use.json"), { headers: { "content-type": "application/json" } });
    }
    const text = capture("fixtures/gemini-functionCall.sse").replaceAll('"gemini-x"', JSON.stringify(model));
    if (method === "countTokens") return json({ totalTokens: 42 });
    if (method === "streamGenerateContent") return sse ? sseResponse(text) : json([JSON.parse(text.trim().slice("data: ".length))]);
    return new Response(text.trim().slice("data: ".length), { headers: { "content-type": "application/json" } });
  }

  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    tokenUrl: `${base}/token`,
    requests,
    tokenGrants,
    once: (path, responder) => queued.push({ path, responder }),
    setTokenLifetime: (seconds) => {
      tokenLifetime = seconds;
    },
    close: () =>
      new Promise((resolve) => {
        (server as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/**
 * An Anthropic SSE stream as Bedrock's InvokeModelWithResponseStream frames it: one `chunk` event per SSE event, the
 * event base64 in `bytes` (with `extra` fields beside it, as Bedrock's `p` padding).
 */
export function bedrockInvokeFrames(sse: string, extra: Readonly<Record<string, string>> = {}): Uint8Array {
  const data = sse.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
  return Buffer.concat(data.map((d) => encodeMessage({ name: "chunk", data: JSON.stringify({ bytes: Buffer.from(d).toString("base64"), ...extra }) })));
}
