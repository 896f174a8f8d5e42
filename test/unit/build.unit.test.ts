// scripts/build.mjs on a project of two files, in a folder of its own: what a deleted source left in dist/ goes.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const project = mkdtempSync(path.join(tmpdir(), 'build-'));
const build = () => spawnSync(process.execPath, [path.join(project, 'scripts/build.mjs')], { encoding: 'utf8' });

describe('npm run build', () => {
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('compiles src/, copies the board, and removes from dist/ what a deleted source left there', () => {
    mkdirSync(path.join(project, 'scripts'));
    mkdirSync(path.join(project, 'src/web'), { recursive: true });
    copyFileSync('scripts/build.mjs', path.join(project, 'scripts/build.mjs'));
    symlinkSync(path.resolve('node_modules'), path.join(project, 'node_modules'));
    writeFileSync(path.join(project, 'tsconfig.build.json'), JSON.stringify({ compilerOptions: { rootDir: 'src', outDir: 'dist', sourceMap: true, incremental: true, module: 'nodenext', target: 'es2022', skipLibCheck: true } }));
    writeFileSync(path.join(project, 'src/kept.ts'), 'export const kept = 1;\n');
    writeFileSync(path.join(project, 'src/gone.ts'), 'export const gone = 2;\n');
    writeFileSync(path.join(project, 'src/web/index.html'), '<p>board</p>\n');

    expect(build().status).toBe(0);
    for (const file of ['kept.js', 'kept.js.map', 'gone.js', 'gone.js.map', 'web/index.html']) expect(existsSync(path.join(project, 'dist', file)), file).toBe(true);

    rmSync(path.join(project, 'src/gone.ts'));
    const second = build();
    expect(second.status, second.stderr).toBe(0);
    expect(second.stdout).toContain('removed dist/gone.js,');
    for (const file of ['gone.js', 'gone.js.map']) expect(existsSync(path.join(project, 'dist', file)), file).toBe(false);
    for (const file of ['kept.js', 'kept.js.map', 'web/index.html']) expect(existsSync(path.join(project, 'dist', file)), file).toBe(true);
  }, 60_000);
});
