import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchDir, handKeptMarker, withHandKept } from '../../bench/report.js';

describe('when a full run rewrites bench/RESULTS.md', () => {
  const generated = '# Benchmark results\n\n### commands\n\nnew figures\n';

  it('keeps the hand-kept measurements below the marker and replaces the tables above it', () => {
    const previous = `# Benchmark results\n\nold figures\n\n${handKeptMarker}\n\n### Overload\n\npeak 412/s\n`;
    const written = withHandKept(generated, previous);
    expect(written).toContain('new figures');
    expect(written).not.toContain('old figures');
    expect(written.endsWith(`${handKeptMarker}\n\n### Overload\n\npeak 412/s\n`)).toBe(true);
  });

  it('writes the generated report alone when there was no file or no marker', () => {
    expect(withHandKept(generated, undefined)).toBe(generated);
    expect(withHandKept(generated, '# Benchmark results\n\nold figures\n')).toBe(generated);
  });

  it('finds the marker in the committed file, so the next run keeps its hand-kept part', () => {
    const committed = readFileSync(path.join(benchDir, 'RESULTS.md'), 'utf8');
    expect(committed.indexOf(handKeptMarker)).toBeGreaterThan(committed.indexOf('### fanout'));
  });
});
