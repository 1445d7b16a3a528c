import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gitInfo, parseStatus } from '../../src/cli/git-info.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function repo(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blu-git-'));
  dirs.push(dir);
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: dir, encoding: 'utf8' });
  git('init', '-q');
  return dir;
}

function commitAll(dir: string): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
  execFileSync('git', ['add', '-A'], { cwd: dir, env });
  execFileSync('git', ['commit', '-qm', 'c'], { cwd: dir, env });
  return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
}

describe('git commit and dirty flag of the project', () => {
  it('are nulls outside a checkout and before the first commit (as `git rev-parse HEAD` fails there)', async () => {
    const outside = mkdtempSync(path.join(os.tmpdir(), 'blu-nogit-'));
    dirs.push(outside);
    expect(await gitInfo(outside)).toEqual({ commit: null, dirty: null });
    expect(await gitInfo(repo())).toEqual({ commit: null, dirty: null });
  });

  it('are HEAD and whether a tracked file changed (untracked files do not count)', async () => {
    const dir = repo();
    writeFileSync(path.join(dir, 'a.txt'), '1');
    const head = commitAll(dir);
    expect(await gitInfo(dir)).toEqual({ commit: head, dirty: false });
    writeFileSync(path.join(dir, 'new.txt'), 'untracked');
    expect(await gitInfo(dir)).toEqual({ commit: head, dirty: false });
    writeFileSync(path.join(dir, 'a.txt'), '2');
    expect(await gitInfo(dir)).toEqual({ commit: head, dirty: true });
  });

  it('reads porcelain v2 headers and entries', () => {
    expect(parseStatus('# branch.oid abc\n# branch.head (detached)\n')).toEqual({ commit: 'abc', dirty: false });
    expect(parseStatus('# branch.oid abc\n# branch.head main\n1 .M N... 100644 100644 100644 x y f.txt\n')).toEqual({
      commit: 'abc',
      dirty: true,
    });
  });
});
