/**
 * MLflow's FileStore layout written directly (see docs/mlflow.md §1): `mlruns/<exp>/<run>/…`
 * with integer run status, `run_uuid` beside `run_id`, raw param/tag files and append-only
 * metric lines, so `mlflow ui --backend-store-uri ./mlruns` reads it as its own.
 */
import { appendFileSync, existsSync, mkdirSync, promises as fs, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { yamlLib } from '../runtime/lazy-deps.js';
import { type Result, ok, err } from '../base/result.js';
import { writeCreatingDir } from '../base/files.js';
import { emitMetaYaml, type MetaValue } from './yaml-emit.js';
import {
  STATUS_CODE,
  latestOf,
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

const RESERVED_EXPERIMENT_DIRS = new Set(['tags', 'datasets', 'traces', 'models']);
const NOT_EXPERIMENTS = new Set(['.trash', 'models']);

export interface FileStoreOptions {
  readonly newRunId?: () => string;
  readonly now?: () => number;
}

function fail(message: string, cause?: unknown): StoreError {
  return { message: cause === undefined ? message : `${message}: ${String(cause)}`, retryable: false };
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

/** Readers retry an empty meta.yaml only twice: write to a temp file and rename (synchronously, as key files). */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

async function readMeta(file: string): Promise<Record<string, unknown> | null> {
  try {
    const parsed: unknown = yamlLib().parse(await fs.readFile(file, 'utf8'));
    return parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

async function subdirs(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name);
}

/** Experiment ids derived from the name make concurrent creation converge on one directory. */
export function experimentIdForName(name: string): string {
  const digits = BigInt(`0x${createHash('sha256').update(name).digest('hex').slice(0, 15)}`) % 10n ** 17n;
  return `1${digits.toString().padStart(17, '0')}`;
}

export class FileStore implements TrackingStore {
  readonly uri: string;
  private readonly runDirs = new Map<string, string>();
  /** meta.yaml fields of the runs this instance created: ending one needs no YAML parse. */
  private readonly runMetas = new Map<string, Record<string, MetaValue>>();
  private readonly newRunId: () => string;
  private readonly now: () => number;

  constructor(
    readonly root: string,
    options: FileStoreOptions = {},
  ) {
    this.uri = `file://${root}`;
    this.newRunId = options.newRunId ?? (() => randomUUID().replace(/-/g, ''));
    this.now = options.now ?? Date.now;
  }

  private experimentMeta(id: string, name: string): string {
    const time = this.now();
    return emitMetaYaml({
      artifact_location: pathToFileURL(path.join(this.root, id)).href,
      creation_time: time,
      experiment_id: id,
      last_update_time: time,
      lifecycle_stage: 'active',
      name,
    });
  }

  /** Creates `<root>/<id>` exclusively; false when another writer got there first. */
  private async claimExperimentDir(id: string, name: string): Promise<boolean> {
    try {
      await fs.mkdir(path.join(this.root, id));
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw cause;
    }
    await writeAtomic(path.join(this.root, id, 'meta.yaml'), this.experimentMeta(id, name));
    return true;
  }

  /** Synchronous checks: they run once per tracked run, before its first write (see writeKeyFile). */
  private async ensureRoot(): Promise<void> {
    mkdirSync(path.join(this.root, '.trash'), { recursive: true });
    // The UI puts runs without an experiment in "0"; write it once like MLflow does.
    if (!existsSync(path.join(this.root, '0'))) await this.claimExperimentDir('0', 'Default');
  }

  private async findExperiment(name: string, dir: string): Promise<string | null> {
    // Fast path: the experiment we would have created, still carrying its name as we wrote it.
    const own = experimentIdForName(name);
    const text = readTextOrEmpty(path.join(dir, own, 'meta.yaml'));
    if (text.includes(`\n${emitMetaYaml({ name })}`) && text.includes(`\n${emitMetaYaml({ experiment_id: own })}`)) return own;
    for (const id of await subdirs(dir)) {
      if (NOT_EXPERIMENTS.has(id)) continue;
      const meta = await readMeta(path.join(dir, id, 'meta.yaml'));
      if (meta !== null && meta['name'] === name && String(meta['experiment_id']) === id) return id;
    }
    return null;
  }

  async ensureExperiment(name: string): StoreResult<string> {
    try {
      await this.ensureRoot();
      const found = await this.findExperiment(name, this.root);
      if (found !== null) return ok(found);
      if ((await this.findExperiment(name, path.join(this.root, '.trash'))) !== null) {
        return err(fail(`MLflow experiment "${name}" is deleted (in ${this.root}/.trash): restore it or purge it with \`mlflow gc\``));
      }
      return await this.createExperiment(name);
    } catch (cause) {
      return err(fail(`cannot create the MLflow experiment "${name}" in ${this.root}`, cause));
    }
  }

  private async createExperiment(name: string): Promise<Result<string, StoreError>> {
    const id = experimentIdForName(name);
    if (await this.claimExperimentDir(id, name)) return ok(id);
    // Someone else created it: wait for its meta.yaml (written right after the mkdir).
    for (let attempt = 0; attempt < 40; attempt++) {
      const meta = await readMeta(path.join(this.root, id, 'meta.yaml'));
      if (meta !== null) {
        if (meta['name'] === name) return ok(id);
        break; // a hash collision with another name: fall back to a random id
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const fallback = `2${String(Math.floor(Math.random() * 1e17)).padStart(17, '0')}`;
    return (await this.claimExperimentDir(fallback, name)) ? ok(fallback) : err(fail(`cannot create experiment "${name}"`));
  }

  async listExperimentIds(): StoreResult<string[]> {
    const ids = (await subdirs(this.root)).filter((id) => !NOT_EXPERIMENTS.has(id));
    return ok(ids);
  }

  async createRun(request: CreateRunRequest): StoreResult<CreatedRun> {
    const runId = this.newRunId();
    const dir = path.join(this.root, request.experimentId, runId);
    try {
      for (const sub of ['metrics', 'params', 'tags', 'artifacts']) mkdirSync(path.join(dir, sub), { recursive: true });
      for (const tag of request.tags) writeKeyFile(dir, 'tags', tag.key, tag.value);
      const artifactUri = pathToFileURL(path.join(dir, 'artifacts')).href;
      const meta = runMetaFields(request, runId, artifactUri);
      await writeAtomic(path.join(dir, 'meta.yaml'), emitMetaYaml(meta));
      this.runDirs.set(runId, dir);
      this.runMetas.set(runId, meta);
      return ok({ runId, artifactUri });
    } catch (cause) {
      return err(fail(`cannot create run in ${dir}`, cause));
    }
  }

  /** Finds a run's directory, also for runs created by another process. */
  private async runDir(runId: string): Promise<string | null> {
    const known = this.runDirs.get(runId);
    if (known !== undefined) return known;
    for (const exp of await subdirs(this.root)) {
      const candidate = path.join(this.root, exp, runId);
      if (!NOT_EXPERIMENTS.has(exp) && (await exists(path.join(candidate, 'meta.yaml')))) {
        this.runDirs.set(runId, candidate);
        return candidate;
      }
    }
    return null;
  }

  async logBatch(runId: string, batch: Batch): StoreResult<void> {
    const dir = await this.runDir(runId);
    if (dir === null) return err(fail(`run ${runId} not found in ${this.root}`));
    try {
      for (const param of batch.params) {
        const previous = readKeyFile(dir, 'params', param.key);
        if (previous !== null && previous !== param.value) {
          return err({
            message: `param ${param.key} already logged with another value`,
            retryable: false,
            code: 'INVALID_PARAMETER_VALUE',
          });
        }
        if (previous === null) writeKeyFile(dir, 'params', param.key, param.value);
      }
      for (const tag of batch.tags) writeKeyFile(dir, 'tags', tag.key, tag.value);
      appendMetrics(dir, batch.metrics);
      return ok(undefined);
    } catch (cause) {
      return err(fail(`cannot write to run ${runId}`, cause));
    }
  }

  async updateRun(runId: string, status: RunStatus, endTime: number): StoreResult<void> {
    const dir = await this.runDir(runId);
    const meta = dir === null ? null : (this.runMetas.get(runId) ?? (await readMeta(path.join(dir, 'meta.yaml'))));
    if (dir === null || meta === null) return err(fail(`run ${runId} not found in ${this.root}`));
    const fields = { ...(meta as Record<string, MetaValue>), status: STATUS_CODE[status], end_time: endTime };
    try {
      await writeAtomic(path.join(dir, 'meta.yaml'), emitMetaYaml(fields));
      this.runMetas.set(runId, fields);
      return ok(undefined);
    } catch (cause) {
      return err(fail(`cannot update run ${runId}`, cause));
    }
  }

  async putArtifact(run: CreatedRun, relativePath: string, localFile: string): StoreResult<void> {
    if (!run.artifactUri.startsWith('file:')) return err(fail(`artifact URI ${run.artifactUri} is not a local path`));
    try {
      const target = path.join(fileURLToPath(run.artifactUri), ...relativePath.split('/'));
      mkdirSync(path.dirname(target), { recursive: true });
      await fs.copyFile(localFile, target); // artifacts can be large: the copy stays off the main thread
      return ok(undefined);
    } catch (cause) {
      return err(fail(`cannot copy artifact ${localFile}`, cause));
    }
  }

  /** Reads two fields of meta.yaml by pattern: the one question of a no-op rerun needs no YAML parser. */
  async runStatus(runId: string): StoreResult<RunStatus | null> {
    const dir = await this.runDir(runId);
    const text = dir === null ? '' : readTextOrEmpty(path.join(dir, 'meta.yaml'));
    const stage = /^lifecycle_stage:\s*(\S+)/m.exec(text)?.[1];
    const status = /^status:\s*(\d+)/m.exec(text)?.[1];
    if (stage === undefined || stage === 'deleted' || status === undefined) return ok(null);
    return ok(statusFromCode(Number(status)));
  }

  async searchRuns(experimentIds: readonly string[], tagEquals: Readonly<Record<string, string>>): StoreResult<RunRecord[]> {
    try {
      return ok(await this.collectRuns(experimentIds, tagEquals));
    } catch (cause) {
      return err(fail(`cannot read runs in ${this.root}`, cause));
    }
  }

  private async collectRuns(experimentIds: readonly string[], tagEquals: Readonly<Record<string, string>>): Promise<RunRecord[]> {
    const runs: RunRecord[] = [];
    for (const exp of experimentIds) {
      for (const runId of await subdirs(path.join(this.root, exp))) {
        if (RESERVED_EXPERIMENT_DIRS.has(runId)) continue;
        const record = await this.readRun(exp, runId);
        if (record !== null && Object.entries(tagEquals).every(([k, v]) => record.tags[k] === v)) runs.push(record);
      }
    }
    return runs;
  }

  private async readRun(exp: string, runId: string): Promise<RunRecord | null> {
    const dir = path.join(this.root, exp, runId);
    const meta = await readMeta(path.join(dir, 'meta.yaml'));
    if (meta === null || meta['lifecycle_stage'] === 'deleted') return null;
    const tags = await readKeyFiles(path.join(dir, 'tags'));
    const metrics: Record<string, number> = {};
    for (const key of await listKeys(path.join(dir, 'metrics'))) {
      const latest = latestOf(await readMetricFile(dir, key));
      if (latest !== undefined) metrics[key] = latest;
    }
    const endTime = typeof meta['end_time'] === 'number' ? meta['end_time'] : null;
    return {
      runId,
      experimentId: exp,
      runName: String(meta['run_name'] ?? tags['mlflow.runName'] ?? ''),
      artifactUri: String(meta['artifact_uri'] ?? ''),
      status: statusFromCode(meta['status'] ?? 1),
      startTime: Number(meta['start_time'] ?? 0),
      endTime,
      params: await readKeyFiles(path.join(dir, 'params')),
      tags,
      metrics,
    };
  }

  async metricHistory(runId: string, key: string): StoreResult<MetricRecord[]> {
    const dir = await this.runDir(runId);
    if (dir === null) return err(fail(`run ${runId} not found in ${this.root}`));
    return ok(await readMetricFile(dir, key));
  }
}

/*
 * A run's params, tags and metrics are one small file each (a no-op rerun of the BLU-Net pipeline
 * writes over 200). They are written synchronously: one syscall each instead of three thread-pool
 * round trips (open, write, close), which on a busy machine made the tracked no-op ~2× slower.
 * Each batch blocks the event loop for well under a millisecond per file; artifacts stay async.
 */

function readTextOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** The value of a param or tag file, or null when there is none (usually: stat first, as a throw per new key is costly). */
function readKeyFile(runDir: string, kind: 'params' | 'tags', key: string): string | null {
  const file = path.join(runDir, kind, ...key.split('/'));
  try {
    return statSync(file, { throwIfNoEntry: false }) === undefined ? null : readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function writeKeyFile(runDir: string, kind: 'params' | 'tags', key: string, value: string): void {
  writeCreatingDir(path.join(runDir, kind, ...key.split('/')), (file) => writeFileSync(file, value));
}

function appendMetrics(runDir: string, metrics: readonly MetricRecord[]): void {
  const byKey = new Map<string, string>();
  for (const m of metrics) byKey.set(m.key, `${byKey.get(m.key) ?? ''}${m.timestamp} ${String(m.value)} ${m.step}\n`);
  for (const [key, lines] of byKey)
    writeCreatingDir(path.join(runDir, 'metrics', ...key.split('/')), (file) => appendFileSync(file, lines));
}

function runMetaFields(request: CreateRunRequest, runId: string, artifactUri: string): Record<string, MetaValue> {
  return {
    artifact_uri: artifactUri,
    end_time: null,
    entry_point_name: '',
    experiment_id: request.experimentId,
    lifecycle_stage: 'active',
    run_id: runId,
    run_name: request.runName,
    run_uuid: runId,
    source_name: '',
    source_type: 4,
    source_version: '',
    start_time: request.startTime,
    status: STATUS_CODE.RUNNING,
    tags: [],
    user_id: request.userId,
  };
}

/** Keys stored as files under `dir`; keys with `/` are nested directories. */
async function listKeys(dir: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    const key = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) keys.push(...(await listKeys(path.join(dir, entry.name), key)));
    else if (!entry.name.includes('.tmp-')) keys.push(key);
  }
  return keys;
}

async function readKeyFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const key of await listKeys(dir)) out[key] = await fs.readFile(path.join(dir, ...key.split('/')), 'utf8');
  return out;
}

async function readMetricFile(runDir: string, key: string): Promise<MetricRecord[]> {
  const text = await fs.readFile(path.join(runDir, 'metrics', ...key.split('/')), 'utf8').catch(() => '');
  const points: MetricRecord[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 2 || fields[0] === '') continue;
    points.push({ key, timestamp: Number(fields[0]), value: parsePythonFloat(fields[1] ?? ''), step: Number(fields[2] ?? 0) });
  }
  return points;
}

function parsePythonFloat(text: string): number {
  const lower = text.toLowerCase();
  if (lower === 'nan') return NaN;
  if (lower === 'inf' || lower === 'infinity') return Infinity;
  if (lower === '-inf' || lower === '-infinity') return -Infinity;
  return Number(text);
}
