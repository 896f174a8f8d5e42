import type { EventStore, StreamHead, StreamVersions } from '../../ports.js';

/** The embedded twin of `PrismaStreamVersions`, for a store without the aggregate query: a scan of the whole log, fine at its size. */
export function scanStreamVersions(store: EventStore): StreamVersions {
  return {
    async changedSince(since) {
      const heads = new Map<string, StreamHead>();
      for (let after = 0n; ; ) {
        const page = await store.readAll(after, 1000);
        if (page.length === 0) break;
        for (const { streamId, version, position, recordedAt, metadata } of page)
          if (recordedAt >= since || heads.has(streamId)) heads.set(streamId, { streamId, version, position, eventId: metadata.eventId });
        after = page.at(-1)!.position;
      }
      return [...heads.values()];
    },
  };
}
