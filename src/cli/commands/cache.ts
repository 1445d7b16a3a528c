import { verifyCache } from '../../artifacts/verify.js';
import type { VerifyReport } from '../../artifacts/verify.js';
import { formatBytes } from '../../artifacts/no-space.js';
import { parse } from '../args.js';
import type { CliIO, ExitCode } from '../io.js';
import { EXIT } from '../io.js';
import { usageError } from '../output.js';
import { layoutFromOptions } from './gc.js';

const USAGE = `usage: blu-pipe cache verify [--repair] [--json] [--cache-dir DIR] [--project-dir DIR]
  Rehashes every blob in the cache and checks every cache entry's blobs and tree manifests.
  Exit 0: the cache is sound (or, with --repair, every problem was removed).
  Exit 1: problems were found and left in place; --repair removes the damaged blobs and the
  entries that need them (the steps rerun on the next run; nothing else is touched).`;

export async function cacheCommand(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const parsed = parse(argv, {
    repair: { type: 'boolean' },
    json: { type: 'boolean' },
    'cache-dir': { type: 'string' },
    'project-dir': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (!parsed.ok) return usageError(io, parsed.error, USAGE);
  const { values, positionals } = parsed.value;
  if (values.help) return (io.stdout(`${USAGE}\n`), EXIT.ok);
  if (positionals[0] !== 'verify')
    return usageError(
      io,
      positionals.length === 0 ? 'missing the cache subcommand' : `unknown cache subcommand '${positionals[0]}'`,
      USAGE,
    );
  if (positionals.length > 1) return usageError(io, `unexpected argument '${positionals[1]}'`, USAGE);
  const layout = layoutFromOptions(values, io);
  const report = await verifyCache(layout.cacheDir, { repair: values.repair === true });
  if (values.json) io.stdout(`${JSON.stringify({ cacheDir: layout.cacheDir, ...report }, null, 1)}\n`);
  else printReport(io, layout.cacheDir, report);
  return report.problems.length === 0 || report.repaired ? EXIT.ok : EXIT.failed;
}

function printReport(io: CliIO, cacheDir: string, report: VerifyReport): void {
  const verb = report.repaired ? 'removed' : 'found';
  for (const p of report.problems) {
    io.stdout(p.kind === 'corrupt-blob' ? `${verb} corrupt blob ${p.id}: ${p.detail}\n` : `${verb} cache entry ${p.id} (${p.detail})\n`);
  }
  const checked = `checked ${report.checkedBlobs} blobs (${formatBytes(report.checkedBytes)}) and ${report.checkedEntries} cache entries in ${cacheDir}`;
  if (report.problems.length === 0) return io.stdout(`${checked}: all sound\n`);
  const blobs = report.problems.filter((p) => p.kind === 'corrupt-blob').length;
  const entries = report.problems.length - blobs;
  const counts = `${blobs} corrupt blob${blobs === 1 ? '' : 's'} and ${entries} cache entr${entries === 1 ? 'y' : 'ies'} that cannot be restored`;
  io.stdout(
    report.repaired
      ? `${checked}: removed ${counts}; the steps they belonged to will rerun\n`
      : `${checked}: ${counts}; nothing was changed (run 'blu-pipe cache verify --repair' to remove them)\n`,
  );
}
