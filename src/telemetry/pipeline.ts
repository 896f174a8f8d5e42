// Spans for the asynchronous half of a command, joined to its trace by the W3C `traceparent` that the
// append stores with each event: the relay's publish and each projector's apply become children of
// the append, and each subscription message a change causes a child of the apply that wrote it,
// whichever process runs them.
import { type Context, context, propagation, ROOT_CONTEXT, type Span, type SpanOptions, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { BusMessage, ChangeFeed, EventBus, EventStore, NewEvent, StoredEvent } from '../ports.js';
import type { HeaderCarrier, PipelineTracing } from './hooks.js';

/** The context a stored `traceparent` names; none starts a trace of its own (an event from before tracing). */
function parentOf(traceparent: string | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

/** The `traceparent` of the active span, if one is recording or was received. */
function activeTraceparent(): string | undefined {
  const carrier: { traceparent?: string } = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

function inSpan<R>(tracer: Tracer, name: string, options: SpanOptions, parent: Context, run: (span: Span) => Promise<R>): Promise<R> {
  return tracer.startActiveSpan(name, options, parent, async (span) => {
    try {
      return await run(span);
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** `target` with some methods replaced; every other member is the target's own, bound to it. */
function override<T extends object>(target: T, methods: Partial<T>): T {
  return new Proxy(target, {
    get(object, key) {
      if (Object.hasOwn(methods, key)) return methods[key as keyof T];
      const value: unknown = Reflect.get(object, key, object);
      return typeof value === 'function' ? value.bind(object) : value;
    },
  });
}

const eventAttributes = (event: StoredEvent) => ({
  'cqrs.order_id': event.streamId,
  'cqrs.version': event.version,
  'cqrs.event_type': event.type,
  'messaging.message.id': event.metadata.eventId,
});

export function pipelineTracing(tracer: Tracer): PipelineTracing {
  return {
    store(store) {
      const append: EventStore['append'] = (streamId, expectedVersion, events, idempotency) =>
        inSpan(
          tracer,
          'append',
          { attributes: { 'cqrs.order_id': streamId, 'cqrs.expected_version': expectedVersion, 'cqrs.events': events.length, 'db.system.name': 'postgresql' } },
          context.active(),
          async (span) => {
            const traceparent = activeTraceparent();
            const stamped: NewEvent[] = traceparent ? events.map((event) => ({ ...event, metadata: { ...event.metadata, traceparent } })) : events;
            const result = await store.append(streamId, expectedVersion, stamped, idempotency);
            span.setAttributes({ 'cqrs.version': result.version, 'cqrs.position': result.position.toString() });
            return result;
          },
        );
      return override(store, { append } as Partial<typeof store>);
    },

    bus(bus) {
      const publish: EventBus['publish'] = (event) =>
        inSpan(tracer, `publish ${event.type}`, { kind: SpanKind.PRODUCER, attributes: { ...eventAttributes(event), 'messaging.operation.type': 'send' } }, parentOf(event.metadata.traceparent), () =>
          bus.publish(event),
        );
      const subscribe: EventBus['subscribe'] = (durable, handler, options) =>
        bus.subscribe(
          durable,
          (message: BusMessage) =>
            inSpan(
              tracer,
              `apply ${durable}`,
              {
                kind: SpanKind.CONSUMER,
                attributes: { ...eventAttributes(message.event), 'messaging.operation.type': 'process', 'messaging.consumer.group.name': durable, 'cqrs.delivery': message.deliveryCount },
              },
              parentOf(message.event.metadata.traceparent),
              () => handler(message),
            ),
          options,
        );
      return override(bus, { publish, subscribe } as Partial<typeof bus>);
    },

    feed(feed) {
      const publish: ChangeFeed['publish'] = (notice) => {
        const traceparent = activeTraceparent();
        return feed.publish(traceparent ? { ...notice, traceparent } : notice);
      };
      return override(feed, { publish } as Partial<typeof feed>);
    },

    yogaPlugin: executionSpans(tracer),

    inject(headers: HeaderCarrier) {
      propagation.inject(context.active(), headers, { set: (carrier, key, value) => carrier.set(key, value) });
    },

    message(notice, send) {
      return inSpan(
        tracer,
        'subscription message',
        { kind: SpanKind.PRODUCER, attributes: { 'cqrs.order_id': notice.id, 'cqrs.version': notice.version, 'cqrs.event_type': notice.eventType, 'cqrs.collection': notice.collection } },
        parentOf(notice.traceparent),
        send,
      );
    },
  };
}

/** `<type> <name>` spans around each execution, the context the resolvers (and so the append) run in. */
function executionSpans(tracer: Tracer): Plugin {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const operation = getOperationAST(args.document, args.operationName);
      const type = operation?.operation ?? 'operation';
      const name = operation?.name?.value;
      const attributes = { 'graphql.operation.type': type, ...(name && { 'graphql.operation.name': name }) };
      setExecuteFn((executeArgs) =>
        inSpan(tracer, name ? `${type} ${name}` : type, { attributes }, context.active(), async (span) => {
          const result = await executeFn(executeArgs);
          if ('errors' in result && result.errors?.length) span.setStatus({ code: SpanStatusCode.ERROR, message: result.errors[0]!.message });
          return result;
        }),
      );
    },
  };
}
