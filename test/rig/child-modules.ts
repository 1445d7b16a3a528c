/** Child scripts for plain `node` processes (real processes) that run the built modules. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './project.js';

/**
 * Writes `childSource` as `dir/child.mjs`, its relative imports (`'./runtime/exec/leases.js'`) pointed at
 * the build in dist/src (made by `npm run build` before the tests), so no source list is kept here.
 */
export async function childFixture(dir: string, childSource: string): Promise<string> {
  const built = pathToFileURL(join(REPO, 'dist/src')).href;
  await mkdir(dir, { recursive: true });
  const child = join(dir, 'child.mjs');
  await writeFile(
    child,
    childSource.replace(/from '\.\/([^']+)'/g, (_, rel: string) => `from '${built}/${rel}'`),
  );
  return child;
}
