import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import GithubSlugger from 'github-slugger';
import MarkdownIt, { type Token } from 'markdown-it';
import { describe, expect, it } from 'vitest';

// The README is the front door and docs/ the reference: links between them must keep working as files
// move, none may lead out of the repository, and the README must stay short enough to read at once.

const root = path.resolve(import.meta.dirname, '../..');
const markdown = new MarkdownIt({ html: true });
const notOurs = new Set(['node_modules', 'dist', 'test-results', 'generated']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith('.') || notOurs.has(entry.name)) return [];
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return markdownFiles(file);
    return entry.name.endsWith('.md') ? [file] : [];
  });
}

const inlineTokens = (file: string): Token[] =>
  markdown.parse(readFileSync(file, 'utf8'), {}).flatMap((token) => [token, ...(token.children ?? [])]);

/** Every link and image target in a Markdown file, code blocks left out as a reader sees them. */
function targets(file: string): string[] {
  return inlineTokens(file).flatMap((token) => {
    const target = token.type === 'link_open' ? token.attrGet('href') : token.type === 'image' ? token.attrGet('src') : null;
    return target === null ? [] : [String(target)];
  });
}

const anchorsByFile = new Map<string, Set<string>>();

/** The anchors GitHub gives a file's headings (github-slugger is what GitHub's renderer follows). */
function anchors(file: string): Set<string> {
  const known = anchorsByFile.get(file);
  if (known) return known;
  const slugger = new GithubSlugger();
  const tokens = markdown.parse(readFileSync(file, 'utf8'), {});
  const found = new Set(
    tokens.flatMap((token, i) => {
      if (token.type !== 'heading_open') return [];
      const text = (tokens[i + 1]?.children ?? []).map((child) => child.content).join('');
      return [slugger.slug(text)];
    }),
  );
  anchorsByFile.set(file, found);
  return found;
}

const local = /^https?:\/\/(127\.0\.0\.1|localhost)(:\d+)?(\/|$)/;
const files = markdownFiles(root);
const rel = (file: string) => path.relative(root, file);

describe('the Markdown files of the repository', () => {
  it('are found, the README and docs among them', () => {
    expect(files.map(rel)).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md', 'docs/architecture.md']));
  });

  it('link only to files that exist, and to headings those files have', () => {
    const broken = files.flatMap((file) =>
      targets(file)
        .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
        .flatMap((target) => {
          const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
          const linked = pathPart ? path.resolve(path.dirname(file), decodeURIComponent(pathPart)) : file;
          if (!existsSync(linked)) return [`${rel(file)}: ${target} (no such file)`];
          if (anchor && statSync(linked).isFile() && linked.endsWith('.md') && !anchors(linked).has(anchor)) {
            return [`${rel(file)}: ${target} (no such heading)`];
          }
          return [];
        }),
    );
    expect(broken).toEqual([]);
  });

  it('never send a reader of the README, the changelog or docs/ out of the repository', () => {
    const front = files.filter((file) => ['README.md', 'CHANGELOG.md'].includes(rel(file)) || rel(file).startsWith('docs/'));
    const outside = front.flatMap((file) => {
      const urls = readFileSync(file, 'utf8').match(/https?:\/\/[^\s)>`'"]+/g) ?? [];
      const links = targets(file).filter((target) => /^[a-z][a-z0-9+.-]*:/i.test(target));
      return [...new Set([...urls, ...links])].filter((url) => !local.test(url)).map((url) => `${rel(file)}: ${url}`);
    });
    expect(outside).toEqual([]);
  });
});

describe('the README', () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

  it('is at most 250 lines', () => {
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(250);
  });

  it("names every top-level folder and every folder of src/ in its map of the code", () => {
    const map = readme.split('## Map of the code')[1]?.split('\n## ')[0] ?? '';
    const folders = (dir: string) =>
      readdirSync(path.join(root, dir), { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && !['node_modules', 'dist', 'test-results'].includes(entry.name))
        .map((entry) => entry.name);
    const named = (pattern: string) => new RegExp(pattern, 'm').test(map);
    const missing = [
      ...folders('.').filter((name) => !named(`^${name}/`)),
      ...folders('src').filter((name) => !named(`^\\s+${name}/`)).map((name) => `src/${name}`),
    ];
    expect(missing).toEqual([]);
  });
});
