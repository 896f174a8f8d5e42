// `prisma generate` that works offline (postinstall, CI). Prisma 7 wants a schema engine binary before
// it generates, though generate never runs it, and the binary cannot be downloaded here: any existing
// file satisfies the check. The generated client needs no native engine (it uses driver adapters).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = path.join(path.dirname(createRequire(import.meta.url).resolve('prisma/package.json')), 'build', 'index.js');

const { status, error } = spawnSync(process.execPath, [cli, 'generate', '--schema', path.join(root, 'prisma', 'schema.prisma')], {
  cwd: root,
  stdio: 'inherit',
  env: {
    ...process.env,
    PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath,
    CHECKPOINT_DISABLE: '1', // no update check, no telemetry: both would reach for the network
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
  },
});
if (error) throw error;
process.exit(status ?? 1);
