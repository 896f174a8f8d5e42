// Preloaded (with node --expose-gc) into the service whose memory the fanout scenario reads: SIGUSR2
// runs a full collection, so both RSS readings hold live memory, not whatever garbage was left.
process.on('SIGUSR2', () => (globalThis as { gc?: () => void }).gc?.());
