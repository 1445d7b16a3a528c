import path from 'node:path';

/** Where blu-pipe keeps its state inside a project (and the cache, which may live elsewhere). */
export interface ProjectLayout {
  readonly projectDir: string;
  readonly bluDir: string;
  readonly cacheDir: string;
  /** Whether the cache lives outside this project's .blu (BLU_CACHE_DIR, --cache-dir), so other projects may use it too. */
  readonly cacheShared: boolean;
  readonly runsDir: string;
  readonly stateDir: string;
  readonly statCacheFile: string;
  /** Import lists of step kinds' modules by content hash (see steps/code-hash.ts). */
  readonly codeImportsFile: string;
  readonly stepLocksDir: string;
}

export function projectLayout(projectDir: string, cacheDir?: string | null): ProjectLayout {
  const bluDir = path.join(projectDir, '.blu');
  const stateDir = path.join(bluDir, 'state');
  const ownCache = path.join(bluDir, 'cache');
  const resolvedCache = cacheDir ? path.resolve(projectDir, cacheDir) : ownCache;
  return {
    projectDir,
    bluDir,
    cacheDir: resolvedCache,
    cacheShared: resolvedCache !== ownCache,
    runsDir: path.join(bluDir, 'runs'),
    stateDir,
    statCacheFile: path.join(stateDir, 'hashes.json'),
    codeImportsFile: path.join(stateDir, 'code-imports.json'),
    stepLocksDir: path.join(bluDir, 'locks'),
  };
}

/** Step ids contain '@', '=' and ','; all are safe in file names, '/' cannot occur. */
export function stepFileName(stepId: string): string {
  return stepId.replace(/[^A-Za-z0-9@=,._+-]/g, '_');
}

/** Sortable, unique run ids: 20261128-001500-3fa2. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${stamp}-${Math.random().toString(16).slice(2, 6)}`;
}
