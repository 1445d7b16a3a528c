import { execFile } from 'node:child_process';

/** stdout of a git command, or null when it fails (not a checkout, git missing). */
function git(args: readonly string[], cwd: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', [...args], { cwd, encoding: 'utf8' }, (error, stdout) => resolve(error ? null : stdout));
  });
}

export interface GitInfo {
  readonly commit: string | null;
  readonly dirty: boolean | null;
}

/**
 * Commit and dirty flag of the project's git checkout, or nulls when it is not one. One git process
 * answers both (porcelain v2 heads its list of changes with `# branch.oid <commit>`): spawning is a
 * few milliseconds of the main thread, which a no-op rerun feels.
 */
export async function gitInfo(dir: string): Promise<GitInfo> {
  // --no-optional-locks: reading must not rewrite the index (nor collide with the user's own git).
  const status = await git(['--no-optional-locks', 'status', '--porcelain=v2', '--branch', '--untracked-files=no'], dir);
  return status === null ? { commit: null, dirty: null } : parseStatus(status);
}

/** Reads `git status --porcelain=v2 --branch` output; a repository without commits has no commit. */
export function parseStatus(text: string): GitInfo {
  const lines = text.split('\n').filter((line) => line !== '');
  const oid = lines
    .find((line) => line.startsWith('# branch.oid '))
    ?.slice('# branch.oid '.length)
    .trim();
  const commit = oid === undefined || oid === '(initial)' ? null : oid;
  if (commit === null) return { commit: null, dirty: null };
  return { commit, dirty: lines.some((line) => !line.startsWith('#')) };
}
