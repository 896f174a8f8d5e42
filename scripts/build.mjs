// `npm run build`: compiles src/ to dist/ with tsconfig.build.json, then copies what the server reads
// from disk beside its modules (the order board's page, script and style). Incremental, so the build
// `npm start` runs first is quick when nothing changed.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const { status, error } = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (error) throw error;
if (status !== 0) process.exit(status ?? 1);

const assets = ['.html', '.css', '.js'];
for (const dir of ['web']) {
  const from = path.join(root, 'src', dir);
  const to = path.join(root, 'dist', dir);
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) if (assets.includes(path.extname(name))) copyFileSync(path.join(from, name), path.join(to, name));
}
