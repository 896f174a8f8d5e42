import { MemoryDeadLetters } from '../../src/infrastructure/embedded/memoryDeadLetters.js';
import { deadLettersContract } from '../contracts/deadLetters.contract.js';

deadLettersContract('in-memory', async () => ({ letters: new MemoryDeadLetters(), cleanup: async () => {} }));
