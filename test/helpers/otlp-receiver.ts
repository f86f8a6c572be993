// An OTLP/HTTP collector on loopback for tests: it takes what OpenTelemetry's JSON exporters POST to /v1/traces and
// /v1/metrics, keeps the raw bodies and headers, and decodes spans and metric names.
import { type IncomingHttpHeaders, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

type AnyValue = { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean; arrayValue?: { values?: AnyValue[] } };
type KeyValue = { key: string; value: AnyValue };

export type AttributeValue = string | number | boolean | AttributeValue[] | undefined;

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly startNanos: bigint;
  readonly endNanos: bigint;
  readonly status: { code?: number; message?: string };
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  readonly resource: Readonly<Record<string, AttributeValue>>;
}

export interface OtlpReceiver {
  readonly url: string;
  /** Every POST: path, headers, decoded body text. */
  readonly posts: { path: string; headers: IncomingHttpHeaders; body: string }[];
  spans(): ReceivedSpan[];
  /** Metric names with the data points' attributes, from every metrics POST. */
  metrics(): { name: string; points: Record<string, AttributeValue>[] }[];
  close(): Promise<void>;
}

function valueOf(v: AnyValue): AttributeValue {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

const toRecord = (kvs: KeyValue[] | undefined) => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, valueOf(kv.value)]));

interface TracesBody {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; startTimeUnixNano: string | number; endTimeUnixNano: string | number; attributes?: KeyValue[]; status?: { code?: number; message?: string } }[] }[];
  }[];
}

interface MetricsBody {
  resourceMetrics?: { scopeMetrics?: { metrics?: { name: string; histogram?: { dataPoints?: { attributes?: KeyValue[] }[] }; sum?: { dataPoints?: { attributes?: KeyValue[] }[] } }[] }[] }[];
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const posts: OtlpReceiver["posts"] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const body = (req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8");
      posts.push({ path: req.url ?? "", headers: req.headers, body });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const bodies = <T>(path: string) => posts.filter((p) => p.path === path).map((p) => JSON.parse(p.body) as T);
  return {
    url: `http://127.0.0.1:${port}`,
    posts,
    spans: () =>
      bodies<TracesBody>("/v1/traces").flatMap((b) =>
        (b.resourceSpans ?? []).flatMap((rs) =>
          (rs.scopeSpans ?? []).flatMap((ss) =>
            (ss.spans ?? []).map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? "",
              name: s.name,
              kind: s.kind,
              startNanos: BigInt(s.startTimeUnixNano),
              endNanos: BigInt(s.endTimeUnixNano),
              status: s.status ?? {},
              attributes: toRecord(s.attributes),
              resource: toRecord(rs.resource?.attributes),
            })),
          ),
        ),
      ),
    metrics: () =>
      bodies<MetricsBody>("/v1/metrics").flatMap((b) =>
        (b.resourceMetrics ?? []).flatMap((rm) =>
          (rm.scopeMetrics ?? []).flatMap((sm) =>
            (sm.metrics ?? []).map((m) => ({ name: m.name, points: (m.histogram?.dataPoints ?? m.sum?.dataPoints ?? []).map((p) => toRecord(p.attributes)) })),
          ),
        ),
      ),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
