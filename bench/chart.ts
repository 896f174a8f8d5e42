// One SVG, one panel per scenario: its headline column as grouped bars (a group per level, a bar per
// system). The axis is logarithmic because the baselines sit one to three orders of magnitude apart.
// Written by hand: a few rectangles need no charting library and no browser.
import type { RunResult, ScenarioResult } from './lib/results.js';

const panel = { width: 520, height: 300, left: 60, top: 40, bottom: 50, right: 20 };
const colors = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2'];
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function drawPanel(result: ScenarioResult, x0: number, y0: number): string {
  const rows = result.rows.filter((row) => !row.ratio);
  const levels = [...new Set(rows.map((row) => row.level))];
  const systems = [...new Set(rows.map((row) => row.system))];
  const value = (system: string, level: string) => rows.find((row) => row.system === system && row.level === level)?.values[result.chartColumn] ?? null;
  const numbers = rows.map((row) => row.values[result.chartColumn]).filter((v): v is number => typeof v === 'number' && v > 0);
  const lo = Math.floor(Math.log10(Math.min(...numbers, 1)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...numbers, 1))));
  const plotW = panel.width - panel.left - panel.right;
  const plotH = panel.height - panel.top - panel.bottom;
  const y = (v: number) => y0 + panel.top + plotH - ((Math.log10(v) - lo) / (hi - lo)) * plotH;
  const out = [`<text x="${x0 + panel.left}" y="${y0 + 18}" font-weight="bold">${escape(`${result.name}: ${result.columns[result.chartColumn]}`)}</text>`];
  for (let power = lo; power <= hi; power++) {
    const yy = y(10 ** power);
    out.push(`<line x1="${x0 + panel.left}" x2="${x0 + panel.width - panel.right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    out.push(`<text x="${x0 + panel.left - 6}" y="${yy + 4}" text-anchor="end" font-size="11">${10 ** power >= 1 ? (10 ** power).toLocaleString('en-US') : 10 ** power}</text>`);
  }
  const groupW = plotW / levels.length;
  const barW = Math.min(60, (groupW * 0.8) / systems.length);
  levels.forEach((level, g) => {
    const gx = x0 + panel.left + g * groupW + (groupW - barW * systems.length) / 2;
    out.push(`<text x="${gx + (barW * systems.length) / 2}" y="${y0 + panel.height - panel.bottom + 16}" text-anchor="middle" font-size="11">${escape(level)}</text>`);
    systems.forEach((system, s) => {
      const v = value(system, level);
      const bx = gx + s * barW;
      if (typeof v === 'number' && v > 0) out.push(`<rect x="${bx}" y="${y(v)}" width="${barW - 1}" height="${y0 + panel.top + plotH - y(v)}" fill="${colors[s % colors.length]}"/>`);
      else if (v === 'pending') out.push(`<text x="${bx + barW / 2}" y="${y0 + panel.top + plotH - 4}" font-size="10" text-anchor="middle" transform="rotate(-90 ${bx + barW / 2} ${y0 + panel.top + plotH - 4})">pending</text>`);
    });
  });
  out.push(`<text x="${x0 + panel.left + plotW / 2}" y="${y0 + panel.height - panel.bottom + 32}" text-anchor="middle" font-size="11">${escape(result.levelName)}</text>`);
  systems.forEach((system, s) => {
    const lx = x0 + panel.left;
    const ly = y0 + panel.height - 4 + s * 14;
    out.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${colors[s % colors.length]}"/><text x="${lx + 14}" y="${ly}" font-size="11">${escape(system)}</text>`);
  });
  return out.join('\n');
}

export function renderChart(run: RunResult): string {
  const columns = 2;
  const rowHeight = panel.height + 50; // room for a legend line per system
  const width = columns * panel.width;
  const height = Math.ceil(run.scenarios.length / columns) * rowHeight + 30;
  const panels = run.scenarios.map((result, i) => drawPanel(result, (i % columns) * panel.width, 30 + Math.floor(i / columns) * rowHeight));
  const title = `cqrs-orders benchmarks, ${run.size} size, ${run.date}, ${run.commit.slice(0, 10)}${run.dirty ? '+' : ''}, ${run.machine.cpus} CPUs`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14">${escape(title)}</text>`,
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}
