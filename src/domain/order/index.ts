export * from './commands.js';
export * from './decide.js';
export * from './events.js';
export * from './rules.js';
export * from './state.js';
export * from './upcast.js';
