import type { Diagnostic } from '../runtime/load/diagnostics.js';
import { formatDiagnostic } from '../runtime/load/diagnostics.js';
import type { CliIO, ExitCode } from './io.js';
import { EXIT } from './io.js';

export function usageError(io: CliIO, message: string, usage: string): ExitCode {
  io.stderr(`blu-pipe: ${message}\n\n${usage}\n`);
  return EXIT.usage;
}

export function printDiagnostics(io: CliIO, diagnostics: readonly Diagnostic[]): ExitCode {
  for (const d of diagnostics) io.stderr(`${formatDiagnostic(d)}\n`);
  const n = diagnostics.length;
  io.stderr(`blu-pipe: ${n} problem${n === 1 ? '' : 's'} found; nothing was run.\n`);
  return EXIT.usage;
}
