/**
 * A small in-memory MLflow tracking server on 127.0.0.1 (node:http) implementing the endpoints
 * blu-pipe uses, with MLflow's validation rules (docs/mlflow.md §2) and injectable faults.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';

export interface SeenRequest {
  readonly method: string;
  readonly endpoint: string; // e.g. runs/log-batch, or artifacts/<path> for uploads
  readonly query: Readonly<Record<string, string>>;
  body: Record<string, unknown>;
  readonly bytes: number;
  status: number;
}

export type FaultKind = 'http500' | 'http429' | 'drop' | 'slow-then-apply' | 'slow';
export interface Fault {
  readonly endpoint: string;
  readonly kind: FaultKind;
  times: number;
  readonly delayMs?: number;
  /** Only requests whose JSON body passes this test. */
  readonly match?: (body: Record<string, unknown>) => boolean;
}

interface Metric {
  key: string;
  value: number | string;
  timestamp: number;
  step: number;
}
interface FakeRun {
  info: Record<string, unknown>;
  params: Map<string, string>;
  tags: Map<string, string>;
  metrics: Metric[];
}

const KEY_RE = /^[/\w.\- :]*$/;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class FakeMlflow {
  readonly requests: SeenRequest[] = [];
  readonly faults: Fault[] = [];
  readonly experiments = new Map<string, { name: string; lifecycle_stage: string }>();
  readonly runs = new Map<string, FakeRun>();
  readonly artifacts = new Map<string, Buffer>();
  private server: http.Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(port = 0): Promise<string> {
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The server goes away: no more listening, open connections cut. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  count(endpoint: string): number {
    return this.requests.filter((r) => r.endpoint === endpoint).length;
  }

  private takeFault(endpoint: string, body: Record<string, unknown>): Fault | null {
    const fault = this.faults.find((f) => f.times > 0 && (f.endpoint === endpoint || f.endpoint === '*') && (f.match?.(body) ?? true));
    if (fault === undefined) return null;
    fault.times--;
    return fault;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', this.url);
    const endpoint = url.pathname.replace(/^\/api\/2\.0\/(mlflow\/|mlflow-artifacts\/)/, '');
    const seen: SeenRequest = {
      method: req.method ?? '',
      endpoint,
      query: Object.fromEntries(url.searchParams),
      body: {},
      bytes: raw.length,
      status: 0,
    };
    this.requests.push(seen);
    const fault = this.takeFault(endpoint, safeJson(raw));
    if (fault?.kind === 'drop') return void req.socket.destroy();
    if (fault?.kind === 'http500' || fault?.kind === 'http429') {
      seen.status = fault.kind === 'http500' ? 500 : 429;
      return this.send(res, seen.status, {
        error_code: seen.status === 500 ? 'INTERNAL_ERROR' : 'REQUEST_LIMIT_EXCEEDED',
        message: 'injected',
      });
    }
    if (fault?.kind === 'slow') await sleep(fault.delayMs ?? 100);
    let status = 200;
    let answer: unknown;
    try {
      if (req.method === 'POST' && !(req.headers['content-type'] ?? '').startsWith('application/json')) {
        throw new ApiError(400, 'BAD_REQUEST', "Bad Request. Content-Type must be one of ['application/json']");
      }
      seen.body = req.method === 'POST' && raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
      answer = this.route(req.method ?? '', endpoint, seen, raw, req.headers);
    } catch (cause) {
      const e = cause instanceof ApiError ? cause : new ApiError(500, 'INTERNAL_ERROR', String(cause));
      status = e.status;
      answer = { error_code: e.code, message: e.message };
    }
    seen.status = status;
    // Applied, but the answer comes too late: the client's timeout decides what happens next.
    if (fault?.kind === 'slow-then-apply') await sleep(fault.delayMs ?? 100);
    if (!res.destroyed) this.send(res, status, answer);
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  authorization: string | undefined;

  private route(method: string, endpoint: string, seen: SeenRequest, raw: Buffer, headers: http.IncomingHttpHeaders): unknown {
    this.authorization = headers.authorization;
    const b = seen.body;
    if (method === 'PUT' && endpoint.startsWith('artifacts/')) {
      this.artifacts.set(decodeURIComponent(endpoint.slice('artifacts/'.length)), raw);
      return {};
    }
    switch (`${method} ${endpoint}`) {
      case 'GET experiments/get-by-name':
        return this.getByName(seen.query['experiment_name'] ?? '');
      case 'POST experiments/create':
        return this.createExperiment(String(b['name']));
      case 'POST experiments/search':
        return { experiments: [...this.experiments].map(([id, e]) => ({ experiment_id: id, ...e })) };
      case 'POST runs/create':
        return this.createRun(b);
      case 'POST runs/log-batch':
        return this.logBatch(b);
      case 'POST runs/update':
        return this.updateRun(b);
      case 'POST runs/search':
        return this.search(b);
      case 'GET runs/get':
        return { run: { info: this.run(seen.query['run_id']).info, data: {} } };
      case 'GET metrics/get-history':
        return this.history(seen.query);
      default:
        throw new ApiError(404, 'ENDPOINT_NOT_FOUND', `${method} ${endpoint}`);
    }
  }

  private getByName(name: string): unknown {
    const found = [...this.experiments].find(([, e]) => e.name === name);
    if (found === undefined) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${name}'`);
    return { experiment: { experiment_id: found[0], ...found[1], artifact_location: `mlflow-artifacts:/${found[0]}` } };
  }

  private createExperiment(name: string): unknown {
    if ([...this.experiments.values()].some((e) => e.name === name)) {
      throw new ApiError(400, 'RESOURCE_ALREADY_EXISTS', `Experiment '${name}' already exists.`);
    }
    const id = String(100000000000000000 + this.experiments.size + 1);
    this.experiments.set(id, { name, lifecycle_stage: 'active' });
    return { experiment_id: id };
  }

  private createRun(b: Record<string, unknown>): unknown {
    const exp = String(b['experiment_id']);
    const experiment = this.experiments.get(exp);
    if (experiment === undefined) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `No experiment ${exp}`);
    if (experiment.lifecycle_stage !== 'active')
      throw new ApiError(500, 'INVALID_STATE', 'Could not create run under non-active experiment');
    const runId = randomUUID().replace(/-/g, '');
    const tags = new Map(((b['tags'] as { key: string; value: string }[] | undefined) ?? []).map((t) => [t.key, t.value]));
    tags.set('mlflow.runName', String(b['run_name']));
    const info = {
      run_id: runId,
      run_uuid: runId,
      experiment_id: exp,
      run_name: b['run_name'],
      user_id: b['user_id'] ?? '',
      status: 'RUNNING',
      start_time: b['start_time'] ?? 0,
      artifact_uri: `mlflow-artifacts:/${exp}/${runId}/artifacts`,
      lifecycle_stage: 'active',
    };
    this.runs.set(runId, { info, params: new Map(), tags, metrics: [] });
    return { run: { info, data: { tags: [...tags].map(([key, value]) => ({ key, value })) } } };
  }

  private run(id: unknown): FakeRun {
    const run = this.runs.get(String(id));
    if (run === undefined) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Run '${String(id)}' not found`);
    return run;
  }

  private logBatch(b: Record<string, unknown>): unknown {
    const run = this.run(b['run_id']);
    const metrics = (b['metrics'] ?? []) as Metric[];
    const params = (b['params'] ?? []) as { key: string; value: string }[];
    const tags = (b['tags'] ?? []) as { key: string; value: string }[];
    validateBatch(metrics, params, tags);
    for (const p of params) {
      const old = run.params.get(p.key);
      if (old !== undefined && old !== p.value)
        throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `Changing param values is not allowed: ${p.key}`);
      run.params.set(p.key, p.value.slice(0, 6000));
    }
    for (const t of tags) run.tags.set(t.key, t.value.slice(0, 8000));
    for (const m of metrics) run.metrics.push({ key: m.key, value: m.value, timestamp: m.timestamp, step: m.step ?? 0 });
    return {};
  }

  private updateRun(b: Record<string, unknown>): unknown {
    const run = this.run(b['run_id']);
    if (['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'].includes(String(b['status']))) run.info['status'] = b['status'];
    if (b['end_time'] !== undefined) run.info['end_time'] = b['end_time'];
    return { run_info: run.info };
  }

  /** Supports the filter shape blu-pipe sends: tags.`k` = 'v' [and …]. */
  private search(b: Record<string, unknown>): unknown {
    const ids = (b['experiment_ids'] ?? []) as string[];
    const filters = String(b['filter'] ?? '')
      .split(' and ')
      .filter((f) => f.trim() !== '')
      .map((f) => {
        const m = /^tags\.`?([^`]+?)`?\s*=\s*'((?:[^'\\]|\\.)*)'$/.exec(f.trim());
        if (m === null) throw new ApiError(400, 'INVALID_PARAMETER_VALUE', `bad filter ${f}`);
        return [m[1]!, m[2]!.replace(/\\'/g, "'")] as const;
      });
    const runs = [...this.runs.values()].filter(
      (r) => ids.includes(String(r.info['experiment_id'])) && filters.every(([k, v]) => r.tags.get(k) === v),
    );
    return {
      runs: runs.map((r) => ({
        info: r.info,
        data: {
          metrics: latestMetrics(r.metrics),
          params: [...r.params].map(([key, value]) => ({ key, value })),
          tags: [...r.tags].map(([key, value]) => ({ key, value })),
        },
      })),
    };
  }

  /** Like MLflow 3.4–3.13: without max_results, no metrics, only a page token. */
  private history(query: Readonly<Record<string, string>>): unknown {
    const run = this.run(query['run_id']);
    if (query['max_results'] === undefined) return { next_page_token: 'bug-23916' };
    return { metrics: run.metrics.filter((m) => m.key === query['metric_key']).map((m) => ({ ...m, run_id: query['run_id'] })) };
  }
}

function latestMetrics(metrics: readonly Metric[]): Metric[] {
  const latest = new Map<string, Metric>();
  for (const m of metrics) {
    const prev = latest.get(m.key);
    if (prev === undefined || m.step > prev.step || (m.step === prev.step && m.timestamp >= prev.timestamp)) latest.set(m.key, m);
  }
  return [...latest.values()];
}

function validateBatch(metrics: readonly Metric[], params: readonly { key: string }[], tags: readonly { key: string }[]): void {
  const bad = (message: string): never => {
    throw new ApiError(400, 'INVALID_PARAMETER_VALUE', message);
  };
  if (metrics.length > 1000) bad(`A batch logging request can contain at most 1000 metrics. Got ${metrics.length} metrics.`);
  if (params.length > 100) bad(`A batch logging request can contain at most 100 params. Got ${params.length} params.`);
  if (tags.length > 100) bad(`A batch logging request can contain at most 100 tags. Got ${tags.length} tags.`);
  if (metrics.length + params.length + tags.length > 1000) bad('A batch logging request can contain at most 1000 items in total.');
  if (new Set(params.map((p) => p.key)).size !== params.length) bad('Duplicate parameter keys have been submitted.');
  for (const item of [...metrics, ...params, ...tags]) {
    if (!KEY_RE.test(item.key) || item.key.length > 250) bad(`Invalid key '${item.key}'`);
  }
  for (const m of metrics) {
    if (m.value === null || m.value === undefined) bad("Missing value for required parameter 'metrics[i].value'");
    if (typeof m.value === 'string' && !['NaN', 'Infinity', '-Infinity'].includes(m.value)) bad(`bad metric value ${m.value}`);
    if (typeof m.timestamp !== 'number') bad("Missing value for required parameter 'metrics[i].timestamp'");
  }
}

function safeJson(raw: Buffer): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(raw.toString('utf8'));
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
