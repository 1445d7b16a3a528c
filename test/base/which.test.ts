import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findOnPath } from '../../src/base/which.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'blu-which-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('findOnPath', () => {
  it('finds the first executable of the names along PATH, skipping files that are not executable', () => {
    const [a, b] = [path.join(root, 'a'), path.join(root, 'b')];
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(path.join(a, 'tool'), 'plain file');
    writeFileSync(path.join(b, 'tool'), '#!/bin/sh\n');
    chmodSync(path.join(b, 'tool'), 0o755);
    const env = { PATH: ['', a, b].join(path.delimiter) };
    expect(findOnPath(['tool'], env)).toBe(path.join(b, 'tool'));
    expect(findOnPath(['missing', 'tool'], env)).toBe(path.join(b, 'tool'));
    expect(findOnPath(['missing'], env)).toBeNull();
    expect(findOnPath(['tool'], {})).toBeNull();
  });
});
