import type { EventStore, StreamHead, StreamVersions } from '../../ports.js';

/** The embedded twin of `PrismaStreamVersions`, for a store without the aggregate query: a scan of the whole log, fine at its size. */
export function scanStreamVersions(store: EventStore): StreamVersions {
  return {
    async changedSince(since, page = {}) {
      const heads = new Map<string, StreamHead>();
      for (let from = 0n; ; ) {
        const events = await store.readAll(from, 1000);
        if (events.length === 0) break;
        for (const { streamId, version, position, recordedAt, metadata } of events)
          if (recordedAt >= since || heads.has(streamId)) heads.set(streamId, { streamId, version, position, eventId: metadata.eventId });
        from = events.at(-1)!.position;
      }
      const after = page.after ?? '';
      const inOrder = [...heads.values()].filter((head) => head.streamId > after).sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));
      return page.limit === undefined ? inOrder : inOrder.slice(0, page.limit);
    },
  };
}
