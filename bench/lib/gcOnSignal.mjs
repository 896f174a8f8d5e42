// Preloaded (with node --expose-gc) into the service whose memory the fanout scenario reads: SIGUSR2
// runs a full collection and says so on stdout with what is live after it, so both readings hold live
// memory, not whatever garbage was left, and the reader knows the collection has happened (a busy
// machine delays signals). `external` includes arrayBuffers (Buffers and ArrayBuffers).
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  const { heapUsed, external } = process.memoryUsage();
  console.log(JSON.stringify({ msg: 'collected', heapUsed, external }));
});
