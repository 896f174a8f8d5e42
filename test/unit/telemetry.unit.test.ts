import { describe, expect, it } from 'vitest';
import { telemetryEnabled } from '../../src/telemetry/index.js';
import { installTracing, traced } from '../../src/telemetry/hooks.js';

describe('when deciding whether to trace', () => {
  it('traces only with an OTLP endpoint, for all signals or for traces', () => {
    expect(telemetryEnabled({})).toBe(false);
    expect(telemetryEnabled({ OTEL_SERVICE_NAME: 'orders' })).toBe(false);
    expect(telemetryEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(telemetryEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
  });

  it('stays off when the SDK or the trace exporter is switched off', () => {
    expect(telemetryEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(telemetryEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
  });
});

describe('when tracing is off', () => {
  it('leaves the adapters as they are and adds no GraphQL hooks', async () => {
    installTracing(null);
    const store = {} as never;
    expect(traced.store(store)).toBe(store);
    expect(traced.bus(store)).toBe(store);
    expect(traced.feed(store)).toBe(store);
    expect(traced.yogaPlugin()).toEqual({});
    const headers = new Map<string, string>();
    traced.inject(headers);
    expect(headers.size).toBe(0);
    expect(await traced.message({ collection: 'orderDetails', id: 'o', version: 2, eventType: 'OrderPaid', traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` }, async () => 'sent')).toBe('sent');
  });
});
