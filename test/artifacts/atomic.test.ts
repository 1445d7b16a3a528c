import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeSmallFileAtomicSync } from '../../src/artifacts/atomic.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blu-atomic-'));
  dirs.push(dir);
  return dir;
}

describe('writeSmallFileAtomicSync', () => {
  it('creates the directory, writes the file, replaces it whole and leaves no temp file', () => {
    const dir = tempDir();
    const file = path.join(dir, 'runs', 'r1', 'run.json');
    writeSmallFileAtomicSync(file, '{"status":"running"}');
    writeSmallFileAtomicSync(file, '{"status":"succeeded"}');
    expect(readFileSync(file, 'utf8')).toBe('{"status":"succeeded"}');
    expect(readdirSync(path.dirname(file))).toEqual(['run.json']);
  });

  it('throws naming the file when it cannot write, and cleans up', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'blocker'), 'a file where a directory should be');
    const file = path.join(dir, 'blocker', 'run.json');
    expect(() => writeSmallFileAtomicSync(file, 'x')).toThrow(/blocker/);
    expect(readdirSync(dir)).toEqual(['blocker']);
  });
});
