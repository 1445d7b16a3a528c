import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterEach, beforeAll } from 'vitest';
import type { ResultPromise } from 'execa';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO, 'dist/src/cli/main.js');

/** A throw-away project folder with the CLI pointed at it; removed by `dispose`. */
export class TempProject {
  readonly dir: string;

  constructor(prefix = 'blu-test-') {
    this.dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    mkdirSync(path.join(this.dir, '.blu'));
  }

  write(rel: string, text: string): string {
    const file = path.join(this.dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    return file;
  }

  copyFromRepo(rel: string): void {
    cpSync(path.join(REPO, rel), path.join(this.dir, rel), { recursive: true });
  }

  path(rel: string): string {
    return path.join(this.dir, rel);
  }

  /** Runs the real CLI as a subprocess; never rejects. */
  async cli(args: readonly string[], env: Record<string, string> = {}): Promise<{ exitCode: number; stdout: string; stderr: string }> {
    const r = await execa(process.execPath, [CLI, ...args], {
      cwd: this.dir,
      reject: false,
      env: { MLFLOW_TRACKING_URI: '', ...env },
      stdin: 'ignore',
    });
    return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  }

  spawn(args: readonly string[], env: Record<string, string> = {}): ResultPromise {
    return execa(process.execPath, [CLI, ...args], { cwd: this.dir, reject: false, env, stdin: 'ignore', buffer: true });
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Parses `run --json` output into step-end outcomes by step id. */
export function outcomes(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line) as { type: string; stepId?: string; outcome?: string };
    if (event.type === 'step-end' && event.stepId && event.outcome) out[event.stepId] = event.outcome;
  }
  return out;
}

/**
 * For a test file that drives the built CLI: fails early when it is not built, and returns a
 * factory of temp projects that are removed after each test.
 */
export function cliProjects(): () => TempProject {
  const projects: TempProject[] = [];
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`build first: ${CLI} is missing (npm test builds it)`);
  });
  afterEach(() => projects.splice(0).forEach((p) => p.dispose()));
  return () => {
    const p = new TempProject();
    projects.push(p);
    return p;
  };
}
