/**
 * The harness's own view of workspace bytes, computed without the runtime's code: the digests the
 * step script records (see STEP_SH) and the hashes a lock file records (a file's SHA-256; for a
 * directory, of its manifest: {executable, hash, path, size} per file, sorted by path, as canonical JSON).
 */
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

export type Digest = string;
export const MISSING = 'missing';

function sha256(bytes: string | Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

interface FileItem {
  readonly rel: string;
  readonly hash: string;
  readonly size: number;
  readonly executable: boolean;
}

function filesUnder(dir: string, prefix = ''): FileItem[] {
  const out: FileItem[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const abs = path.join(dir, entry.name);
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...filesUnder(abs, rel));
    else if (entry.isFile()) {
      const bytes = readFileSync(abs);
      out.push({ rel, hash: sha256(bytes), size: bytes.length, executable: (lstatSync(abs).mode & 0o111) !== 0 });
    }
  }
  return out;
}

function kindOf(abs: string): 'file' | 'dir' | 'missing' {
  try {
    const st = lstatSync(abs);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'missing';
  } catch {
    return 'missing';
  }
}

/**
 * What the step script records for an input: `sha256sum` of a file; for a directory, `sha256sum` of
 * the lines `sha256sum DIR/* DIR/*\/*` prints (files one level down in C order, then two levels down).
 */
export function consumedDigest(projectDir: string, rel: string, dir: boolean): Digest {
  const abs = path.join(projectDir, rel);
  const kind = kindOf(abs);
  if (kind !== (dir ? 'dir' : 'file')) return MISSING;
  if (!dir) return sha256(readFileSync(abs));
  const byName = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  const level1 = readdirSync(abs)
    .sort(byName)
    .map((n) => `${rel}/${n}`);
  const level2 = level1
    .filter((p) => kindOf(path.join(projectDir, p)) === 'dir')
    .flatMap((p) => readdirSync(path.join(projectDir, p)).map((n) => `${p}/${n}`))
    .sort(byName);
  const lines = [...level1, ...level2]
    .filter((p) => kindOf(path.join(projectDir, p)) === 'file')
    .map((p) => `${sha256(readFileSync(path.join(projectDir, p)))}  ${p}\n`);
  return sha256(lines.join(''));
}

/** The hash a lock entry records for an output: the blob hash of a file, the manifest hash of a directory. */
export function outputHash(abs: string, type: 'file' | 'dir'): Digest {
  const kind = kindOf(abs);
  if (kind !== type) return kind === 'missing' ? MISSING : `a ${kind}`;
  if (type === 'file') return sha256(readFileSync(abs));
  const entries = filesUnder(abs)
    .sort((x, y) => (x.rel < y.rel ? -1 : x.rel > y.rel ? 1 : 0))
    .map((f) => `{"executable":${f.executable},"hash":"${f.hash}","path":${JSON.stringify(f.rel)},"size":${f.size}}`);
  return sha256(`[${entries.join(',')}]`);
}

/** What an output file says it was made from (see STEP_SH); undefined when it is not such a record. */
export interface ConsumedRecord {
  readonly step: string;
  readonly param: string;
  readonly inputs: ReadonlyMap<string, Digest>;
}

export function readRecord(abs: string): ConsumedRecord | undefined {
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch {
    return undefined;
  }
  let step: string | undefined;
  let param: string | undefined;
  const inputs = new Map<string, Digest>();
  for (const line of text.split('\n')) {
    const [tag, a, b] = line.split(' ');
    if (tag === 'step') step = a;
    else if (tag === 'param') param = a;
    else if (tag === 'in' && a !== undefined && b !== undefined) inputs.set(a, b);
  }
  return step === undefined || param === undefined ? undefined : { step, param, inputs };
}
