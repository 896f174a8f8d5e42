// The OpenTelemetry Node SDK, configured by the standard OTEL_* variables (endpoint, protocol, service
// name, sampler, resource attributes ...), with the instrumentations of what this service talks to.
import { trace } from '@opentelemetry/api';
import { GraphQLInstrumentation } from '@opentelemetry/instrumentation-graphql';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { installTracing } from './hooks.js';
import { pipelineTracing } from './pipeline.js';

export interface Telemetry {
  /** Exports what is still buffered, then stops. */
  shutdown(): Promise<void>;
}

// Probes and scrapes are not part of any command.
const unTraced = new Set(['/healthz', '/readyz', '/metrics']);

export function startSdk(env: Record<string, string | undefined>): Telemetry {
  // Traces only, unless asked: metrics are served on /metrics and logs go to stdout already.
  process.env.OTEL_METRICS_EXPORTER ??= 'none';
  process.env.OTEL_LOGS_EXPORTER ??= 'none';
  const sdk = new NodeSDK({
    // A default only: OTEL_SERVICE_NAME, or service.name in OTEL_RESOURCE_ATTRIBUTES, names it otherwise.
    ...(!env.OTEL_SERVICE_NAME && !/(^|,)\s*service\.name=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '') && { serviceName: 'cqrs-orders' }),
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => unTraced.has((request.url ?? '').split('?')[0]!) }),
      new GraphQLInstrumentation({ mergeItems: true, ignoreTrivialResolveSpans: true }),
      new PgInstrumentation(),
      new IORedisInstrumentation(),
    ],
  });
  sdk.start();
  installTracing(pipelineTracing(trace.getTracer('cqrs-orders')));
  return {
    async shutdown() {
      installTracing(null);
      await sdk.shutdown();
    },
  };
}
