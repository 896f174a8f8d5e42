// `npm run build`: compiles src/ to dist/ with tsconfig.build.json, then copies what the server reads
// from disk beside its modules (the order board's page, script and style), and removes what a deleted or
// renamed source left in dist/. Incremental, so the build `npm start` runs first is quick when nothing changed.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
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

// tsc's incremental build writes what changed and never removes: a module whose source was deleted stayed in
// dist/, importable and shipped. A file of dist/ stays only if a source of src/ compiles or copies to it.
const compiled = /(\.d)?\.js(\.map)?$/;
const sources = (relative) => [relative, ...(compiled.test(relative) ? ['.ts', '.tsx', '.mts'].map((ext) => relative.replace(compiled, ext)) : [])];
for (const entry of readdirSync(path.join(root, 'dist'), { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || entry.name === '.tsbuildinfo') continue;
  const relative = path.relative(path.join(root, 'dist'), path.join(entry.parentPath ?? entry.path, entry.name));
  if (!sources(relative).some((source) => existsSync(path.join(root, 'src', source)))) {
    rmSync(path.join(root, 'dist', relative));
    console.log(`build: removed dist/${relative}, whose source is gone`);
  }
}
