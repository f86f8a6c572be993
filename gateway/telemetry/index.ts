// OpenTelemetry for the gateway (config `telemetry`): one span per provider request, ended when its row is recorded,
// and GenAI metrics, both sent over OTLP/HTTP (JSON) with the official SDK. Nothing is registered globally: the
// providers belong to this gateway and shut down with it. An incoming `traceparent` makes the span its child (and a
// parent that was not sampled is honoured: no span is sent).
import { type Attributes, type AttributeValue, ROOT_CONTEXT, SpanKind, SpanStatusCode, type TextMapGetter } from "@opentelemetry/api";
import { type ExportResult, ExportResultCode, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";
import { ATTR_SERVICE_INSTANCE_ID } from "@opentelemetry/semantic-conventions/incubating";
import type { TelemetryConfig } from "../config/telemetry.js";
import type { RequestTracer, TracedRequest } from "../proxy/traced.js";
import { errorType, spanAttributes, spanName } from "./attributes.js";
import { genAiMetrics } from "./metrics.js";

export interface Telemetry extends RequestTracer {
  /** Sends what is waiting (spans, metrics). */
  flush(): Promise<void>;
  /** Sends what is waiting and stops. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  readonly version: string;
  /** This replica's name (service.instance.id). */
  readonly instance: string;
  readonly onError: (err: unknown, context: string) => void;
}

const headerGetter: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: () => ["traceparent", "tracestate"],
};

/** Says once that exports fail, and again once they work after failing (an unreachable collector is not fatal). */
function failureReporter(what: string, onError: TelemetryOptions["onError"]): (result: ExportResult) => void {
  let failing = false;
  return (result) => {
    const failed = result.code !== ExportResultCode.SUCCESS;
    if (failed && !failing) onError(result.error ?? new Error("export failed"), `OpenTelemetry ${what} export (dropped; later ones are not reported until one succeeds)`);
    failing = failed;
  };
}

class ReportingTraceExporter extends OTLPTraceExporter {
  constructor(
    config: ConstructorParameters<typeof OTLPTraceExporter>[0],
    private readonly report: (result: ExportResult) => void,
  ) {
    super(config);
  }

  override export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    super.export(spans, (result) => {
      this.report(result);
      done(result);
    });
  }
}

class ReportingMetricExporter extends OTLPMetricExporter {
  constructor(
    config: ConstructorParameters<typeof OTLPMetricExporter>[0],
    private readonly report: (result: ExportResult) => void,
  ) {
    super(config);
  }

  override export(metrics: ResourceMetrics, done: (result: ExportResult) => void): void {
    super.export(metrics, (result) => {
      this.report(result);
      done(result);
    });
  }
}

/** Attributes with a value: the SDK would warn about each undefined one. */
function defined(attributes: Attributes): Attributes {
  return Object.fromEntries(Object.entries(attributes).filter((e): e is [string, AttributeValue] => e[1] !== undefined));
}

export function createTelemetry(config: TelemetryConfig, options: TelemetryOptions): Telemetry {
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: config.service_name,
    [ATTR_SERVICE_VERSION]: options.version,
    [ATTR_SERVICE_INSTANCE_ID]: options.instance,
  });
  const base = config.otlp.endpoint.replace(/\/+$/, "");
  const exporterConfig = (path: string) => ({ url: `${base}${path}`, headers: { ...config.otlp.headers }, timeoutMillis: config.otlp.timeout });
  const spans = new BatchSpanProcessor(new ReportingTraceExporter(exporterConfig("/v1/traces"), failureReporter("trace", options.onError)), {
    scheduledDelayMillis: config.batch_delay,
    exportTimeoutMillis: config.otlp.timeout,
  });
  const tracerProvider = new BasicTracerProvider({ resource, spanProcessors: [spans] });
  const tracer = tracerProvider.getTracer("keyless", options.version);
  const meterProvider =
    config.metrics_interval > 0
      ? new MeterProvider({
          resource,
          readers: [
            new PeriodicExportingMetricReader({
              exporter: new ReportingMetricExporter(exporterConfig("/v1/metrics"), failureReporter("metric", options.onError)),
              exportIntervalMillis: config.metrics_interval,
              exportTimeoutMillis: Math.min(config.otlp.timeout, config.metrics_interval),
            }),
          ],
        })
      : null;
  const metrics = meterProvider ? genAiMetrics(meterProvider.getMeter("keyless", options.version)) : null;
  const propagator = new W3CTraceContextPropagator();

  return {
    ended(r: TracedRequest) {
      // The row is recorded already; telemetry failing must not touch the request's own bookkeeping.
      try {
        const parent = propagator.extract(ROOT_CONTEXT, r.clientHeaders, headerGetter);
        const startTime = performance.timeOrigin + r.started;
        const attributes = defined(spanAttributes(r));
        const span = tracer.startSpan(spanName(r), { kind: SpanKind.CLIENT, startTime, attributes }, parent);
        const error = errorType(r);
        if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
        span.end(startTime + r.row.duration_ms);
        metrics?.record(r);
      } catch (err) {
        options.onError(err, "OpenTelemetry span");
      }
    },
    async flush() {
      await tracerProvider.forceFlush();
      await meterProvider?.forceFlush();
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider?.shutdown();
    },
  };
}
