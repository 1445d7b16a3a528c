import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { err, type Result } from '../../../base/result.js';
import { lastLines, nativeError, type NativeError } from './errors.js';
import { classifySource, type LibtensorflowSource } from './source.js';
import { findOnPath } from './toolchain.js';

type Env = Readonly<Record<string, string | undefined>>;

// Once a downloaded wheel is unpacked, the wheel goes and this note remembers the entry, so later
// installs neither call pip nor keep 270 MB twice.
function notePath(downloads: string, requirement: string): string {
  return path.join(downloads, `${requirement.replace(/[^A-Za-z0-9.=_-]+/g, '_')}.json`);
}

export function rememberedPipSource(downloads: string, requirement: string): LibtensorflowSource | null {
  try {
    return JSON.parse(readFileSync(notePath(downloads, requirement), 'utf8')) as LibtensorflowSource;
  } catch {
    return null;
  }
}

export async function rememberPipSource(downloads: string, requirement: string, source: LibtensorflowSource): Promise<void> {
  await writeFile(notePath(downloads, requirement), `${JSON.stringify(source, null, 2)}\n`);
  await rm(source.path, { force: true });
}

function pipCommand(env: Env): [string, string[]] | null {
  const pip = findOnPath(['pip3', 'pip'], env);
  if (pip !== null) return [pip, []];
  const python = findOnPath(['python3'], env);
  return python === null ? null : [python, ['-m', 'pip']];
}

/** `pip download <requirement> --no-deps`: works offline where pip has a local wheel index. */
export async function downloadWheel(downloads: string, requirement: string, env: Env): Promise<Result<LibtensorflowSource, NativeError>> {
  const pip = pipCommand(env);
  const fix = 'set BLU_LIBTENSORFLOW to a TensorFlow wheel or libtensorflow .tar.gz, or run: npx blu-pipe native install --from <file>';
  if (pip === null)
    return err(
      nativeError(
        'NATIVE_NO_SOURCE',
        `no libtensorflow source: BLU_LIBTENSORFLOW is not set and pip is not installed to download ${requirement}`,
        fix,
      ),
    );
  const dir = path.join(downloads, `pip-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const args = [...pip[1], 'download', requirement, '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '-d', dir];
  const result = await execa(pip[0], args, { env, extendEnv: false, reject: false, all: true, timeout: 15 * 60_000 });
  const wheel = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.whl')) : undefined;
  if (result.exitCode !== 0 || wheel === undefined) {
    await rm(dir, { recursive: true, force: true });
    const last = lastLines(result.all ?? '', 1)[0] ?? 'no output';
    return err(
      nativeError(
        'NATIVE_NO_SOURCE',
        `no libtensorflow source: BLU_LIBTENSORFLOW is not set and 'pip download ${requirement}' failed (${last.trim()})`,
        fix,
      ),
    );
  }
  return classifySource(path.join(dir, wheel), 'pip download');
}
