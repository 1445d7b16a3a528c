import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { readJsonFile } from '../../artifacts/atomic.js';
import { collectGarbage } from '../../artifacts/gc.js';
import { formatBytes } from '../../artifacts/no-space.js';
import type { Sha256, StepKey } from '../../artifacts/types.js';
import { findProjectDir } from '../../runtime/load/load.js';
import type { ProjectLayout } from '../../runtime/layout.js';
import { projectLayout } from '../../runtime/layout.js';
import { lockedReferences } from '../../runtime/plan/lockfile.js';
import type { Parsed } from '../args.js';
import { parse, positiveInt, stringValue } from '../args.js';
import type { CliIO, ExitCode } from '../io.js';
import { EXIT } from '../io.js';
import { usageError } from '../output.js';

const USAGE = `usage: blu-pipe gc [--keep-last N] [--dry-run] [--cache-dir DIR] [--project-dir DIR]
  Deletes cache entries and blobs that no lock file in the project (*.lock beside each pipeline,
  every experiment section) and none of the last N runs (default 10) reference.`;

export async function gcCommand(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const parsed = parse(argv, {
    'keep-last': { type: 'string' },
    'dry-run': { type: 'boolean' },
    'cache-dir': { type: 'string' },
    'project-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (!parsed.ok) return usageError(io, parsed.error, USAGE);
  const { values, positionals } = parsed.value;
  if (values.help) return (io.stdout(`${USAGE}\n`), EXIT.ok);
  if (positionals.length > 0) return usageError(io, `unexpected argument '${positionals[0]}'`, USAGE);
  const keepLast = positiveInt(values['keep-last'], 'keep-last');
  if (!keepLast.ok) return usageError(io, keepLast.error, USAGE);
  const layout = layoutFromOptions(values, io);
  const projectDir = layout.projectDir;
  const keep = await referenced(projectDir, layout.runsDir, keepLast.value ?? 10);
  const report = await collectGarbage(layout.cacheDir, keep, { dryRun: values['dry-run'] === true });
  const verb = values['dry-run'] ? 'would free' : 'freed';
  io.stdout(
    `${verb} ${formatBytes(report.freedBytes)}: ${report.removedEntries} cache entries and ${report.removedBlobs} blobs; kept ${report.keptBlobs} blobs referenced by the lock files and the last ${keepLast.value ?? 10} runs\n`,
  );
  return EXIT.ok;
}

/** The project and cache a cache command works on: --project-dir/--cache-dir, else found from cwd. */
export function layoutFromOptions(values: Parsed['values'], io: CliIO): ProjectLayout {
  const projectDir = path.resolve(io.cwd, stringValue(values['project-dir']) ?? findProjectDir(path.join(io.cwd, 'x')));
  return projectLayout(projectDir, stringValue(values['cache-dir']) ?? io.env.BLU_CACHE_DIR ?? null);
}

async function referenced(projectDir: string, runsDir: string, keepLast: number): Promise<{ keys: Set<StepKey>; hashes: Set<Sha256> }> {
  const { keys, hashes } = await lockedReferences(projectDir);
  const runs = (await readdir(runsDir).catch(() => [] as string[])).sort().slice(-keepLast);
  for (const run of runs) {
    const record = await readJsonFile<{ keys?: string[] }>(path.join(runsDir, run, 'run.json'));
    for (const k of record?.keys ?? []) keys.add(k as StepKey);
  }
  return { keys, hashes };
}
