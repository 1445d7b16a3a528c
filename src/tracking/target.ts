/** Where tracking data goes: an embedded MLflow file store or an MLflow server over REST. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Result, ok, err } from '../base/result.js';

export type Target =
  | { readonly kind: 'file'; readonly root: string; readonly uri: string }
  | { readonly kind: 'rest'; readonly baseUrl: string; readonly uri: string; readonly headers: Readonly<Record<string, string>> };

type Env = Readonly<Record<string, string | undefined>>;

/** `MLFLOW_TRACKING_URI` wins over the configured URI; nothing means `<projectDir>/mlruns`. */
export function resolveTarget(configured: string | null, env: Env, projectDir: string): Result<Target, string> {
  const raw = nonEmpty(env['MLFLOW_TRACKING_URI']) ?? nonEmpty(configured);
  if (raw === null) return ok(fileTarget(path.join(projectDir, 'mlruns')));
  if (/^https?:\/\//i.test(raw)) {
    try {
      return ok(restTarget(raw, env));
    } catch {
      return err(`bad MLflow tracking URI "${raw}"`);
    }
  }
  if (raw.startsWith('file:')) return fileUriTarget(raw, projectDir);
  if ((/^[a-z][a-z0-9+.-]*:/i.test(raw) && !/^[a-z]:[\\/]/i.test(raw)) || raw === 'databricks') {
    return err(`unsupported MLflow tracking URI "${raw}": use file:<path> or http(s)://host (databases are for an MLflow server)`);
  }
  // A bare path, as `mlflow ui --backend-store-uri ./mlruns` accepts.
  return ok(fileTarget(path.resolve(projectDir, raw)));
}

function nonEmpty(value: string | null | undefined): string | null {
  return value === undefined || value === null || value.trim() === '' ? null : value.trim();
}

function fileTarget(root: string): Target {
  return { kind: 'file', root, uri: `file://${root}` };
}

/** `file:///abs`, `file:/abs` and the relative `file:./mlruns` all occur in the wild. */
function fileUriTarget(raw: string, projectDir: string): Result<Target, string> {
  if (raw.startsWith('file://')) {
    try {
      return ok(fileTarget(fileURLToPath(raw)));
    } catch (cause) {
      return err(`bad file URI "${raw}": ${String(cause)}`);
    }
  }
  return ok(fileTarget(path.resolve(projectDir, raw.slice('file:'.length))));
}

/** fetch() refuses URLs with credentials: move `user:pass@` into a basic auth header. */
function restTarget(raw: string, env: Env): Target {
  const url = new URL(raw);
  const inUrl =
    url.username !== ''
      ? { MLFLOW_TRACKING_USERNAME: decodeURIComponent(url.username), MLFLOW_TRACKING_PASSWORD: decodeURIComponent(url.password) }
      : {};
  url.username = '';
  url.password = '';
  const baseUrl = url.href.replace(/\/+$/, '');
  return { kind: 'rest', baseUrl, uri: baseUrl, headers: authHeaders({ ...inUrl, ...env }) };
}

/** Bearer token wins over basic auth, as in the Python client. */
export function authHeaders(env: Env): Record<string, string> {
  const token = nonEmpty(env['MLFLOW_TRACKING_TOKEN']);
  if (token !== null) return { authorization: `Bearer ${token}` };
  const user = nonEmpty(env['MLFLOW_TRACKING_USERNAME']);
  const password = env['MLFLOW_TRACKING_PASSWORD'] ?? '';
  if (user !== null) return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
  return {};
}

/** A display form of the target without credentials. */
export function describeTarget(target: Target, projectDir: string): string {
  if (target.kind === 'rest') return target.baseUrl;
  const rel = path.relative(projectDir, target.root);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? `./${rel}` : target.root;
}
