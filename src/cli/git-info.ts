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

/** Commit and dirty flag of the project's git checkout, or nulls when it is not one. Both asked at once. */
export async function gitInfo(dir: string): Promise<GitInfo> {
  const [head, status] = await Promise.all([git(['rev-parse', 'HEAD'], dir), git(['status', '--porcelain', '--untracked-files=no'], dir)]);
  if (head === null) return { commit: null, dirty: null };
  return { commit: head.trim(), dirty: status === null ? null : status.trim().length > 0 };
}
