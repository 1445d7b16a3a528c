import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** The first of `names` that is an executable file in a folder of PATH (searched in order), or null. */
export function findOnPath(names: readonly string[], env: Readonly<Record<string, string | undefined>>): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter((d) => d !== '')) {
    for (const name of names) {
      const candidate = path.join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return null;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
