import { statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { err, ok, type Result } from '../../../base/result.js';
import { nativeError, type NativeError } from './errors.js';

/** A place a TensorFlow C library can be taken from. */
export interface LibtensorflowSource {
  readonly kind: 'wheel' | 'archive' | 'directory';
  readonly path: string;
  /** TensorFlow version read from the name, when the name carries one. */
  readonly version: string | null;
  /** Cache entry name: the same source always maps to the same entry. */
  readonly id: string;
  /** How it was found, for messages: 'BLU_LIBTENSORFLOW', '--from', 'pip download'. */
  readonly via: string;
}

const ACCEPTED = 'a TensorFlow wheel (.whl), an official libtensorflow archive (.tar.gz) or a directory holding either unpacked';

function versionIn(name: string): string | null {
  return /(?:^|[-_])(\d+\.\d+\.\d+)(?=[-_.]|$)/.exec(name)?.[1] ?? null;
}

function entryId(base: string, size: number): string {
  return `${base.replace(/[^A-Za-z0-9._-]+/g, '_')}-${size}`;
}

/** What kind of source a path is, judged by its name and type; the contents are checked on unpacking. */
export function classifySource(file: string, via: string): Result<LibtensorflowSource, NativeError> {
  const absolute = path.resolve(file);
  let stats: Stats;
  try {
    stats = statSync(absolute);
  } catch {
    return err(nativeError('NATIVE_BAD_SOURCE', `${via}: ${absolute} does not exist`, `give the path of ${ACCEPTED}`));
  }
  const name = path.basename(absolute);
  if (stats.isDirectory()) {
    return ok({ kind: 'directory', path: absolute, version: versionIn(name), id: `dir-${entryId(name, 0)}-${stats.ino}`, via });
  }
  if (name.endsWith('.whl')) {
    return ok({ kind: 'wheel', path: absolute, version: versionIn(name), id: entryId(name.slice(0, -4), stats.size), via });
  }
  if (name.endsWith('.tar.gz') || name.endsWith('.tgz')) {
    const base = name.replace(/\.(tar\.gz|tgz)$/, '');
    return ok({ kind: 'archive', path: absolute, version: versionIn(name), id: entryId(base, stats.size), via });
  }
  return err(
    nativeError('NATIVE_BAD_SOURCE', `${via}: ${absolute} is neither a .whl, a .tar.gz nor a directory`, `give the path of ${ACCEPTED}`),
  );
}

/** The pip requirement for the default wheel: CPU TensorFlow with the C API this addon was verified against. */
export const DEFAULT_WHEEL_REQUIREMENT = 'tensorflow-cpu==2.21.0';
