import path from 'node:path';
import { execa } from 'execa';
import { err, ok, type Result } from '../../../base/result.js';
import { nativeError, type NativeError } from './errors.js';
import { blupipeRoot } from './paths.js';

/** What the verification process measured. */
export interface NativeCheck {
  readonly tfVersion: string;
  readonly maxRelativeError: number;
  readonly loadMs: number;
}

interface ChildResult {
  ok: boolean;
  tfVersion?: string;
  maxRelativeError?: number;
  loadMs?: number;
  error?: string;
}

function parseChild(stdout: string): ChildResult | null {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  if (line === undefined) return null;
  try {
    return JSON.parse(line) as ChildResult;
  } catch {
    return null;
  }
}

/** Loads tfjs-node in a fresh process and compares conv results and gradients with the cpu backend. */
export async function verifyNative(env: Readonly<Record<string, string | undefined>>): Promise<Result<NativeCheck, NativeError>> {
  const script = path.join(blupipeRoot(), 'dist', 'src', 'ml', 'backend', 'native', 'verify-child.js');
  const result = await execa(process.execPath, [script], { env, extendEnv: false, reject: false, timeout: 180_000, all: true });
  const child = parseChild(result.stdout);
  if (child?.ok === true && child.tfVersion !== undefined) {
    return ok({ tfVersion: child.tfVersion, maxRelativeError: child.maxRelativeError ?? 0, loadMs: child.loadMs ?? 0 });
  }
  const why = child?.error ?? (result.signal !== undefined ? `the process died with ${result.signal}` : `exit ${result.exitCode ?? '?'}`);
  const undefinedSymbol = /undefined symbol: (\w+)/.exec(why)?.[1];
  if (undefinedSymbol !== undefined) {
    return err(
      nativeError(
        'NATIVE_NO_C_API',
        `the library does not export ${undefinedSymbol}, which tfjs-node's binding calls`,
        'use a TensorFlow 2.x wheel or libtensorflow archive that includes the C API',
      ),
    );
  }
  return err(
    nativeError(
      'NATIVE_VERIFY_FAILED',
      `the native backend built but failed its check: ${why}`,
      'run: npx blu-pipe native status   (wasm stays in use meanwhile)',
      (result.all ?? '').split('\n').slice(-10),
    ),
  );
}
