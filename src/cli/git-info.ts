
/** Commit and dirty flag of the project's git checkout, or nulls when it is not one. */
export async function gitInfo(dir: string): Promise<{ commit: string | null; dirty: boolean | null }> {
  const { execa } = await import('execa');
  const head = await execa('git', ['rev-parse', 'HEAD'], { cwd: dir, reject: false });
  if (head.failed) return { commit: null, dirty: null };
  const status = await execa('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: dir, reject: false });
  return { commit: head.stdout.trim(), dirty: status.failed ? null : status.stdout.trim().length > 0 };
}
