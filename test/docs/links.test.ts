/** Every relative link in the project's Markdown points at a file or folder that exists. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../rig/project.js';

const SKIP = new Set(['node_modules', 'dist', '.git', '.blu', 'mlruns']);

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return SKIP.has(entry.name) ? [] : markdownFiles(full);
    return entry.name.endsWith('.md') ? [full] : [];
  });
}

/** Targets of `[text](target)` and `![alt](target)` outside code spans and fenced blocks. */
function relativeLinks(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#'));
}

describe('documentation links', () => {
  const files = markdownFiles(REPO);

  it('finds the README and the docs', () => {
    expect(files).toContain(path.join(REPO, 'README.md'));
    expect(files.filter((f) => f.startsWith(path.join(REPO, 'docs'))).length).toBeGreaterThan(5);
  });

  it('has no dead relative link', () => {
    const dead = files.flatMap((file) =>
      relativeLinks(readFileSync(file, 'utf8'))
        .filter((target) => !existsSync(path.resolve(path.dirname(file), decodeURIComponent(target.split('#')[0]!))))
        .map((target) => `${path.relative(REPO, file)} → ${target}`),
    );
    expect(dead).toEqual([]);
  });

  it('reaches every doc from the README', () => {
    const reached = new Set<string>();
    const visit = (file: string): void => {
      if (reached.has(file) || !file.endsWith('.md') || !existsSync(file)) return;
      reached.add(file);
      for (const target of relativeLinks(readFileSync(file, 'utf8')))
        visit(path.resolve(path.dirname(file), decodeURIComponent(target.split('#')[0]!)));
    };
    visit(path.join(REPO, 'README.md'));
    const docs = files.filter((f) => f.startsWith(path.join(REPO, 'docs') + path.sep));
    expect(docs.filter((f) => !reached.has(f)).map((f) => path.relative(REPO, f))).toEqual([]);
  });
});
