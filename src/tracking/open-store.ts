/** Builds the store for a resolved target, and the commands to look at it. */
import os from 'node:os';
import type { FileStoreOptions } from './file-store.js';
import type { TrackingStore } from './store.js';
import type { Target } from './target.js';

export interface StoreOptions extends FileStoreOptions {
  readonly requestTimeoutMs?: number;
}

/** Loads only the module the target needs: a file store never loads the HTTP client, nor a server the file store. */
export async function openStore(target: Target, options: StoreOptions = {}): Promise<TrackingStore> {
  if (target.kind === 'file') return new (await import('./file-store.js')).FileStore(target.root, options);
  return new (await import('./rest-store.js')).RestStore(target.baseUrl, {
    headers: target.headers,
    requestTimeoutMs: options.requestTimeoutMs,
  });
}

/** The shell command that shows a file store in the MLflow UI (MLflow ≥ 3.13 needs the opt-in variable). */
export function uiCommandLine(
  target: Target,
): { readonly env: Record<string, string>; readonly args: string[]; readonly text: string } | null {
  if (target.kind === 'rest') return null;
  const args = ['ui', '--backend-store-uri', target.uri];
  return { env: { MLFLOW_ALLOW_FILE_STORE: 'true' }, args, text: `MLFLOW_ALLOW_FILE_STORE=true mlflow ${args.map(shellQuote).join(' ')}` };
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

type Env = Readonly<Record<string, string | undefined>>;

export function userName(env: Env): string {
  const fromEnv = env['USER'] ?? env['LOGNAME'] ?? env['USERNAME'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Artifact size cap in bytes from `BLU_MLFLOW_MAX_ARTIFACT_MB` (default 50 MB). */
export function maxArtifactBytes(env: Env): number {
  const mb = Number(env['BLU_MLFLOW_MAX_ARTIFACT_MB'] ?? '50');
  return (Number.isFinite(mb) && mb >= 0 ? mb : 50) * 1024 * 1024;
}
