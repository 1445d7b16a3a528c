import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { NativeCheck } from './verify.js';
import type { LibtensorflowSource } from './source.js';

/**
 * What the last successful install verified, kept inside the tfjs-node package so that it goes
 * away with node_modules (npm ci) and never describes a package it did not check.
 */
export interface NativeState extends NativeCheck {
  /** 'registry': tfjs-node's own install worked; 'built': compiled here against `source`. */
  readonly origin: 'registry' | 'built';
  readonly source: LibtensorflowSource | null;
  readonly libtensorflowDir: string | null;
  readonly addon: string;
  readonly verifiedAt: string;
}

export const STATE_FILE = 'blu-native.json';

export function readNativeState(packageDir: string): NativeState | null {
  try {
    return JSON.parse(readFileSync(path.join(packageDir, STATE_FILE), 'utf8')) as NativeState;
  } catch {
    return null;
  }
}

export async function writeNativeState(packageDir: string, state: NativeState): Promise<void> {
  const file = path.join(packageDir, STATE_FILE);
  await writeFile(`${file}.partial`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${file}.partial`, file);
}
