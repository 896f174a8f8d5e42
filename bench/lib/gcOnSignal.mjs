// Preloaded (with node --expose-gc) into the service whose memory the fanout scenario reads: SIGUSR2
// runs a full collection and says so on stdout, so both RSS readings hold live memory, not whatever
// garbage was left, and the reader knows the collection has happened (a busy machine delays signals).
process.on('SIGUSR2', () => {
  globalThis.gc?.();
  console.log(JSON.stringify({ msg: 'collected' }));
});
