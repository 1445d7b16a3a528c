import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import type { Result } from '../base/result.js';
import { err, ok } from '../base/result.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

/** node:util parseArgs, turned into a typed result with a readable message. */
export function parse(argv: readonly string[], options: OptionSpec): Result<Parsed, string> {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return ok({ values: values as Parsed['values'], positionals });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return err(message.replace(/^TypeError \[[A-Z_]+\]: /, '').split('\n')[0]!);
  }
}

export function stringList(value: Parsed['values'][string]): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

export function stringValue(value: Parsed['values'][string]): string | null {
  return typeof value === 'string' ? value : null;
}

export function positiveInt(value: Parsed['values'][string], name: string): Result<number | null, string> {
  if (value === undefined) return ok(null);
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) return err(`--${name} must be a positive whole number, got '${String(value)}'`);
  return ok(n);
}

/** Options shared by every command that loads a pipeline. */
export const PIPELINE_OPTIONS: OptionSpec = {
  experiment: { type: 'string', short: 'e', multiple: true },
  set: { type: 'string', multiple: true },
  'cache-dir': { type: 'string' },
  'project-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** `--help` or `-h` among the options (not after `--`): every subcommand then prints its usage and exits 0. */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

export function printUsage(io: { stdout: (text: string) => void }, usage: string): 0 {
  io.stdout(`${usage}\n`);
  return 0;
}
