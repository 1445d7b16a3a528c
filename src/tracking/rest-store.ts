/** The MLflow REST API (docs/mlflow.md §2): JSON over HTTP, errors as data, retryable or not. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Result, ok, err } from '../base/result.js';
import { metricValueFromJson, metricValueToJson } from './values.js';
import {
  statusFromCode,
  type Batch,
  type CreateRunRequest,
  type CreatedRun,
  type MetricRecord,
  type RunRecord,
  type RunStatus,
  type StoreError,
  type StoreResult,
  type TrackingStore,
} from './store.js';

export interface RestStoreOptions {
  readonly headers?: Readonly<Record<string, string>>;
  /** Per-request timeout; a slow server counts as a retryable failure. */
  readonly requestTimeoutMs?: number;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function pairs(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(value)) return out;
  for (const item of value) if (isObject(item)) out[String(item['key'])] = String(item['value'] ?? '');
  return out;
}

export class RestStore implements TrackingStore {
  readonly uri: string;
  private readonly headers: Readonly<Record<string, string>>;
  private readonly timeoutMs: number;

  constructor(
    readonly baseUrl: string,
    options: RestStoreOptions = {},
  ) {
    this.uri = baseUrl;
    this.headers = options.headers ?? {};
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  /** One HTTP exchange; never throws. */
  private async call(method: string, url: string, body?: Buffer | string, contentType?: string): Promise<Result<Json, StoreError>> {
    let response: Response;
    try {
      const headers: Record<string, string> = { ...this.headers };
      if (contentType !== undefined) headers['content-type'] = contentType;
      response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (cause) {
      const text = describeFetchError(cause);
      // Refused connections never reached the server; timeouts and cut connections may have.
      return err({ message: `${method} ${url}: ${text}`, retryable: true, ambiguous: !/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH/.test(text) });
    }
    const text = await response.text().catch(() => '');
    let parsed: unknown = {};
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      parsed = {};
    }
    const json = isObject(parsed) ? parsed : {};
    if (response.ok) return ok(json);
    const code = typeof json['error_code'] === 'string' ? json['error_code'] : undefined;
    const message = typeof json['message'] === 'string' ? json['message'] : text.slice(0, 200);
    // INVALID_STATE comes back as 500 but will not go away by retrying (deleted experiment).
    const retryable = (response.status === 429 || response.status >= 500) && code !== 'INVALID_STATE';
    return err({
      message: `${method} ${url}: HTTP ${response.status} ${code ?? ''} ${message}`.trim(),
      retryable,
      status: response.status,
      code,
    });
  }

  private api(endpoint: string): string {
    return `${this.baseUrl}/api/2.0/mlflow/${endpoint}`;
  }

  private post(endpoint: string, body: Json): Promise<Result<Json, StoreError>> {
    return this.call('POST', this.api(endpoint), JSON.stringify(body), 'application/json');
  }

  private get(endpoint: string, query: Record<string, string>): Promise<Result<Json, StoreError>> {
    return this.call('GET', `${this.api(endpoint)}?${new URLSearchParams(query).toString()}`);
  }

  private async experimentByName(name: string): Promise<Result<Json | null, StoreError>> {
    const found = await this.get('experiments/get-by-name', { experiment_name: name });
    if (!found.ok) return found.error.code === 'RESOURCE_DOES_NOT_EXIST' ? ok(null) : found;
    return ok(isObject(found.value['experiment']) ? found.value['experiment'] : null);
  }

  async ensureExperiment(name: string): StoreResult<string> {
    const existing = await this.existingExperimentId(name);
    if (!existing.ok || existing.value !== null) return existing as Result<string, StoreError>;
    const created = await this.post('experiments/create', { name });
    if (created.ok) return ok(String(created.value['experiment_id']));
    if (created.error.code !== 'RESOURCE_ALREADY_EXISTS') return created;
    // Another process created it between our lookup and our create.
    const again = await this.existingExperimentId(name);
    if (!again.ok) return again;
    return again.value !== null ? ok(again.value) : err({ message: `experiment "${name}" exists but cannot be read`, retryable: false });
  }

  private async existingExperimentId(name: string): Promise<Result<string | null, StoreError>> {
    const found = await this.experimentByName(name);
    if (!found.ok || found.value === null) return found.ok ? ok(null) : found;
    if (found.value['lifecycle_stage'] === 'deleted') {
      return err({
        message: `MLflow experiment "${name}" is deleted on ${this.baseUrl}: restore it (experiments/restore) or purge it`,
        retryable: false,
      });
    }
    return ok(String(found.value['experiment_id']));
  }

  async listExperimentIds(): StoreResult<string[]> {
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.post('experiments/search', { max_results: 1000, ...(token ? { page_token: token } : {}) });
      if (!page.ok) return page;
      for (const exp of Array.isArray(page.value['experiments']) ? page.value['experiments'] : []) {
        if (isObject(exp)) ids.push(String(exp['experiment_id']));
      }
      token =
        typeof page.value['next_page_token'] === 'string' && page.value['next_page_token'] !== ''
          ? page.value['next_page_token']
          : undefined;
    } while (token !== undefined);
    return ok(ids);
  }

  async createRun(request: CreateRunRequest): StoreResult<CreatedRun> {
    const created = await this.post('runs/create', {
      experiment_id: request.experimentId,
      run_name: request.runName,
      start_time: request.startTime,
      user_id: request.userId,
      tags: request.tags.map((t) => ({ key: t.key, value: t.value })),
    });
    if (!created.ok) return created;
    const run = isObject(created.value['run']) ? created.value['run'] : {};
    const info = isObject(run['info']) ? run['info'] : {};
    const runId = String(info['run_id'] ?? info['run_uuid'] ?? '');
    if (runId === '') return err({ message: 'runs/create answered without a run id', retryable: false });
    return ok({ runId, artifactUri: String(info['artifact_uri'] ?? '') });
  }

  async logBatch(runId: string, batch: Batch): StoreResult<void> {
    const sent = await this.post('runs/log-batch', {
      run_id: runId,
      metrics: batch.metrics.map((m) => ({ key: m.key, value: metricValueToJson(m.value), timestamp: m.timestamp, step: m.step })),
      params: batch.params.map((p) => ({ key: p.key, value: p.value })),
      tags: batch.tags.map((t) => ({ key: t.key, value: t.value })),
    });
    return sent.ok ? ok(undefined) : sent;
  }

  async updateRun(runId: string, status: RunStatus, endTime: number): StoreResult<void> {
    const sent = await this.post('runs/update', { run_id: runId, status, end_time: endTime });
    return sent.ok ? ok(undefined) : sent;
  }

  async putArtifact(run: CreatedRun, relativePath: string, localFile: string): StoreResult<void> {
    if (run.artifactUri.startsWith('file:')) return copyLocally(run.artifactUri, relativePath, localFile);
    if (!run.artifactUri.startsWith('mlflow-artifacts:')) {
      return err({
        message: `artifact URI scheme of ${run.artifactUri} is not supported (only mlflow-artifacts: and file:)`,
        retryable: false,
      });
    }
    // mlflow-artifacts:/exp/run/artifacts or mlflow-artifacts://host:port/exp/run/artifacts
    const base = run.artifactUri.replace(/^mlflow-artifacts:(\/\/[^/]*)?/, '').replace(/^\/+/, '');
    const encoded = [...base.split('/'), ...relativePath.split('/')].map(encodeURIComponent).join('/');
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(localFile);
    } catch (cause) {
      return err({ message: `cannot read artifact ${localFile}: ${String(cause)}`, retryable: false });
    }
    const sent = await this.call('PUT', `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts/${encoded}`, bytes, 'application/octet-stream');
    return sent.ok ? ok(undefined) : sent;
  }

  async searchRuns(experimentIds: readonly string[], tagEquals: Readonly<Record<string, string>>): StoreResult<RunRecord[]> {
    const filter = Object.entries(tagEquals)
      .map(([k, v]) => `tags.\`${k}\` = '${v.replace(/'/g, "\\'")}'`)
      .join(' and ');
    const runs: RunRecord[] = [];
    let token: string | undefined;
    do {
      const page = await this.post('runs/search', {
        experiment_ids: experimentIds,
        filter,
        max_results: 1000,
        run_view_type: 'ACTIVE_ONLY',
        ...(token ? { page_token: token } : {}),
      });
      if (!page.ok) return page;
      for (const run of Array.isArray(page.value['runs']) ? page.value['runs'] : []) if (isObject(run)) runs.push(toRunRecord(run));
      token =
        typeof page.value['next_page_token'] === 'string' && page.value['next_page_token'] !== ''
          ? page.value['next_page_token']
          : undefined;
    } while (token !== undefined);
    return ok(runs);
  }

  async runStatus(runId: string): StoreResult<RunStatus | null> {
    const found = await this.get('runs/get', { run_id: runId });
    if (!found.ok) return found.error.code === 'RESOURCE_DOES_NOT_EXIST' || found.error.status === 404 ? ok(null) : found;
    const run = isObject(found.value['run']) ? found.value['run'] : {};
    const info = isObject(run['info']) ? run['info'] : {};
    return ok(info['lifecycle_stage'] === 'deleted' ? null : statusFromCode(info['status']));
  }

  /** Always sends max_results: without it MLflow 3.4–3.13 returns no metrics (bug #23916). */
  async metricHistory(runId: string, key: string): StoreResult<MetricRecord[]> {
    const points: MetricRecord[] = [];
    let token: string | undefined;
    do {
      const page = await this.get('metrics/get-history', {
        run_id: runId,
        metric_key: key,
        max_results: '25000',
        ...(token ? { page_token: token } : {}),
      });
      if (!page.ok) return page;
      for (const m of Array.isArray(page.value['metrics']) ? page.value['metrics'] : []) {
        if (isObject(m))
          points.push({
            key,
            value: metricValueFromJson(m['value']),
            timestamp: Number(m['timestamp'] ?? 0),
            step: Number(m['step'] ?? 0),
          });
      }
      token =
        typeof page.value['next_page_token'] === 'string' && page.value['next_page_token'] !== ''
          ? page.value['next_page_token']
          : undefined;
    } while (token !== undefined);
    return ok(points);
  }
}

function toRunRecord(run: Json): RunRecord {
  const info = isObject(run['info']) ? run['info'] : {};
  const data = isObject(run['data']) ? run['data'] : {};
  const metrics: Record<string, number> = {};
  for (const m of Array.isArray(data['metrics']) ? data['metrics'] : []) {
    if (isObject(m)) metrics[String(m['key'])] = metricValueFromJson(m['value']);
  }
  const endTime = info['end_time'] === undefined || info['end_time'] === null ? null : Number(info['end_time']);
  return {
    runId: String(info['run_id'] ?? info['run_uuid'] ?? ''),
    experimentId: String(info['experiment_id'] ?? ''),
    runName: String(info['run_name'] ?? ''),
    artifactUri: String(info['artifact_uri'] ?? ''),
    status: statusFromCode(info['status']),
    startTime: Number(info['start_time'] ?? 0),
    endTime,
    params: pairs(data['params']),
    tags: pairs(data['tags']),
    metrics,
  };
}

async function copyLocally(artifactUri: string, relativePath: string, localFile: string): Promise<Result<void, StoreError>> {
  try {
    const target = path.join(fileURLToPath(artifactUri), ...relativePath.split('/'));
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.copyFile(localFile, target);
    return ok(undefined);
  } catch (cause) {
    return err({ message: `cannot copy artifact to ${artifactUri}: ${String(cause)}`, retryable: false });
  }
}

function describeFetchError(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = (cause as Error & { cause?: unknown }).cause;
    const code = inner !== null && typeof inner === 'object' && 'code' in inner ? ` ${String(inner.code)}` : '';
    return inner instanceof Error ? `${cause.message} (${inner.message}${code})` : `${cause.name}: ${cause.message}`;
  }
  return String(cause);
}
