// The pipeline's only link to tracing. Nothing here imports OpenTelemetry: with
// OTEL_EXPORTER_OTLP_ENDPOINT unset nothing installs an implementation, the adapters stay undecorated,
// and each call site below costs one null check.
import type { Plugin } from 'graphql-yoga';
import type { ChangeFeed, ChangeNotice, EventBus, EventStore } from '../ports.js';

/** Anything that carries string headers: JetStream's MsgHdrs, a plain record. */
export interface HeaderCarrier {
  set(key: string, value: string): void;
}

export interface PipelineTracing {
  /** Spans each append and stores the W3C `traceparent` with its events. */
  store<T extends EventStore>(store: T): T;
  /** Spans each publish and each delivered message, in the trace of the event's `traceparent`. */
  bus<T extends EventBus>(bus: T): T;
  /** Gives each change notice the `traceparent` of the span that published it. */
  feed<T extends ChangeFeed>(feed: T): T;
  /** Writes the active span's context into outgoing message headers. */
  inject(headers: HeaderCarrier): void;
  /** A Yoga plugin that spans each GraphQL execution (Yoga's executor is not graphql-js's, which the GraphQL instrumentation wraps). */
  readonly yogaPlugin: Plugin;
  /** Runs `send` as the span of one subscription message, in the trace of the change behind it. */
  message<R>(notice: ChangeNotice, send: () => Promise<R>): Promise<R>;
}

let installed: PipelineTracing | null = null;

/** Called once by the SDK set-up (and by tests with their own tracer provider); null turns it off. */
export function installTracing(tracing: PipelineTracing | null): void {
  installed = tracing;
}

export const traced = {
  store: <T extends EventStore>(store: T): T => (installed ? installed.store(store) : store),
  bus: <T extends EventBus>(bus: T): T => (installed ? installed.bus(bus) : bus),
  feed: <T extends ChangeFeed>(feed: T): T => (installed ? installed.feed(feed) : feed),
  inject(headers: HeaderCarrier): void {
    installed?.inject(headers);
  },
  /** Read once, when the server is built: an empty plugin while tracing is off. */
  yogaPlugin: (): Plugin => installed?.yogaPlugin ?? {},
  message<R>(notice: ChangeNotice, send: () => Promise<R>): Promise<R> {
    return installed && traced.spans(notice) ? installed.message(notice, send) : send();
  },
  /** Whether `message` makes a span for this notice: tracing is on and the notice carries a trace. */
  spans(notice: ChangeNotice): boolean {
    return installed !== null && Boolean(notice.traceparent);
  },
};
