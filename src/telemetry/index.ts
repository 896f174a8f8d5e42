// OpenTelemetry, on only when an OTLP endpoint is configured. Off, this module is all that loads: the
// SDK, the instrumentations and the loader hook are imported on demand, so a service without
// OTEL_EXPORTER_OTLP_ENDPOINT pays nothing per request.

// A type-only import: erased at run time, so the SDK still loads only on demand.
import type { Telemetry } from './sdk.js';

export type { Telemetry };

type Env = Record<string, string | undefined>;

export function telemetryEnabled(env: Env = process.env): boolean {
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return Boolean(endpoint) && env.OTEL_SDK_DISABLED !== 'true' && env.OTEL_TRACES_EXPORTER !== 'none';
}

/**
 * Starts tracing when enabled. Must run before the modules it instruments (http, pg, ioredis, graphql)
 * are imported: the entry point imports the service only after this resolves.
 */
export async function startTelemetry(env: Env = process.env): Promise<Telemetry | null> {
  if (!telemetryEnabled(env)) return null;
  // ES modules are instrumented through a loader hook, told which modules to wrap as the
  // instrumentations register: every other import stays as it was.
  const { register } = await import('node:module');
  const { createAddHookMessageChannel } = await import('import-in-the-middle');
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions);
  const { startSdk } = await import('./sdk.js');
  const telemetry = startSdk(env);
  await waitForAllMessagesAcknowledged();
  return telemetry;
}
