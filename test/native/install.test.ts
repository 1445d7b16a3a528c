import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { installNative, installSummary } from '../../src/ml/backend/native/install.js';
import { C_API_CORE, dynamicSymbols } from '../../src/ml/backend/native/elf.js';
import { CLI, REPO } from '../rig/project.js';

// Real installs of the native backend run in npm ci (CI builds it whenever pip can fetch a wheel);
// these tests cover what a user gets wrong, each in a private cache so nothing real is touched.
const temps: string[] = [];
afterEach(() => temps.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blu-native-'));
  temps.push(dir);
  return dir;
}

const nativeInstalled = existsSync(path.join(REPO, 'node_modules/@tensorflow/tfjs-node/blu-native.json'));
/** A PATH with node and nothing else: no compiler, no make, no pip. */
function bareBin(): string {
  const dir = tempDir();
  symlinkSync(process.execPath, path.join(dir, 'node'));
  return dir;
}

async function cli(args: string[], env: Record<string, string> = {}) {
  const cache = tempDir();
  return execa(process.execPath, [CLI, ...args], { cwd: REPO, reject: false, env: { BLU_NATIVE_CACHE: cache, ...env } });
}

/** A shared library that exports the C API's core names (or not): enough to pass or fail the symbol check. */
async function fakeLibrary(dir: string, withCApi: boolean): Promise<string> {
  const root = path.join(dir, 'libtf');
  mkdirSync(path.join(root, 'lib'), { recursive: true });
  mkdirSync(path.join(root, 'include/tensorflow/c'), { recursive: true });
  writeFileSync(path.join(root, 'include/tensorflow/c/c_api.h'), '/* header stand-in */\n');
  const names = withCApi ? C_API_CORE : ['not_tensorflow'];
  writeFileSync(path.join(dir, 'lib.c'), names.map((n) => `void ${n}(void) {}\n`).join(''));
  await execa('cc', ['-shared', '-fPIC', '-o', path.join(root, 'lib/libtensorflow.so.2'), path.join(dir, 'lib.c')]);
  return root;
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`build first: ${CLI} is missing (npm test builds it)`);
});

describe('blu-pipe native install: bad sources are usage errors that say what to use', () => {
  it('a file that is neither a wheel, an archive nor a directory', async () => {
    const file = path.join(tempDir(), 'notes.txt');
    writeFileSync(file, 'hello');
    const r = await cli(['native', 'install', '--from', file]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/notes\.txt is neither a \.whl, a \.tar\.gz nor a directory \[NATIVE_BAD_SOURCE\]/);
    expect(r.stderr).toMatch(/fix: give the path of a TensorFlow wheel/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a .whl that is not a zip, and a zip that is not a TensorFlow wheel', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'broken-1.0.0-py3-none-any.whl'), 'not a zip at all');
    const notZip = await cli(['native', 'install', '--from', path.join(dir, 'broken-1.0.0-py3-none-any.whl')]);
    expect(notZip.exitCode).toBe(2);
    expect(notZip.stderr).toMatch(/is not a readable zip archive .*so not a TensorFlow wheel/);
    writeFileSync(path.join(dir, 'a.txt'), 'x');
    await execa('python3', ['-m', 'zipfile', '-c', path.join(dir, 'other-2.0.0-py3-none-any.whl'), path.join(dir, 'a.txt')]);
    const other = await cli(['native', 'install', '--from', path.join(dir, 'other-2.0.0-py3-none-any.whl')]);
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toMatch(/is a zip but not a TensorFlow wheel with the C library \(missing tensorflow\/libtensorflow_cc\.so\.2/);
  });

  it('a .tar.gz that is not libtensorflow', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a.txt'), 'x');
    await execa('tar', ['-czf', path.join(dir, 'libtensorflow-cpu-linux-x86_64-9.9.9.tar.gz'), '-C', dir, 'a.txt']);
    const r = await cli(['native', 'install', '--from', path.join(dir, 'libtensorflow-cpu-linux-x86_64-9.9.9.tar.gz')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/is an archive but not libtensorflow/);
  });

  it('a directory whose library lacks the C API, and the half-made cache entry is removed', async () => {
    const dir = tempDir();
    const root = await fakeLibrary(dir, false);
    const cache = tempDir();
    const r = await execa(process.execPath, [CLI, 'native', 'install', '--from', root], {
      cwd: REPO,
      reject: false,
      env: { BLU_NATIVE_CACHE: cache },
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(
      /without the C API \(TF_Version, TF_NewStatus, TFE_NewContext, TFE_NewOp, TFE_Execute not exported\) \[NATIVE_NO_C_API\]/,
    );
    expect(readdirSync(path.join(cache, 'libtensorflow'))).toEqual([]);
  });
});

describe('what the installer needs from the machine', () => {
  it('a missing compiler is named with the Debian packages, and the installed package is left alone', async () => {
    const dir = tempDir();
    const root = await fakeLibrary(dir, true);
    expect([...((await dynamicSymbols(path.join(root, 'lib/libtensorflow.so.2')))?.defined ?? [])]).toEqual(
      expect.arrayContaining([...C_API_CORE]),
    );
    const site = { packageDir: path.join(dir, 'node_modules/@tensorflow/tfjs-node'), projectDir: dir, version: '4.22.0' };
    mkdirSync(path.join(site.packageDir, 'lib'), { recursive: true });
    writeFileSync(
      path.join(site.packageDir, 'package.json'),
      JSON.stringify({ name: '@tensorflow/tfjs-node', version: '4.22.0', binary: { napi_versions: [8] } }),
    );
    const result = await installNative({
      from: root,
      env: { PATH: bareBin(), HOME: dir, BLU_NATIVE_CACHE: path.join(dir, 'cache') },
      report: () => {},
      site,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('NATIVE_NO_COMPILER');
    expect(result.error.message).toMatch(/needs a C\+\+ compiler \(g\+\+\), make, python3, not found on PATH/);
    expect(result.error.fix).toMatch(/apt-get install g\+\+ make python3/);
    expect(existsSync(path.join(site.packageDir, 'deps'))).toBe(false);
  });

  it('without BLU_LIBTENSORFLOW and without pip, the install line says why and how to get one', async () => {
    const dir = tempDir();
    const site = { packageDir: path.join(dir, 'node_modules/@tensorflow/tfjs-node'), projectDir: dir, version: '4.22.0' };
    const result = await installNative({
      env: { PATH: bareBin(), HOME: dir, BLU_NATIVE_CACHE: path.join(dir, 'cache') },
      report: () => {},
      site,
    });
    expect(result.ok || result.error.code).toBe('NATIVE_NO_SOURCE');
    const line = installSummary(result);
    expect(line).toMatch(
      /^no native TensorFlow backend \(no libtensorflow source: BLU_LIBTENSORFLOW is not set and pip is not installed .*\); the wasm backend will be used\. To get one: set BLU_LIBTENSORFLOW/,
    );
    expect(line.split('\n')).toHaveLength(1);
  });

  it('BLU_NATIVE=0 and BLU_NATIVE_ENGINE=0 skip both native builds at install time with one line each, and install still succeeds', async () => {
    const r = await execa(process.execPath, [path.join(REPO, 'dist/src/ml/backend/native/postinstall.js')], {
      cwd: REPO,
      reject: false,
      env: { BLU_NATIVE: '0', BLU_NATIVE_ENGINE: '0' },
    });
    expect(r.exitCode).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines).toContain('blu-pipe: native TensorFlow backend skipped (BLU_NATIVE=0); the wasm backend will be used');
    expect(lines.find((l) => l.includes('binary engine'))).toMatch(/BLU_NATIVE_ENGINE=0/);
  });

  it('--engine-only (the end of npm run build) and --tensorflow-only (after it at install) each do their own half', async () => {
    const run = async (flag: string) =>
      execa(process.execPath, [path.join(REPO, 'dist/src/ml/backend/native/postinstall.js'), flag], {
        cwd: REPO,
        reject: false,
        env: { BLU_NATIVE: '0', BLU_NATIVE_ENGINE: '0' },
      });
    const engine = await run('--engine-only');
    expect(engine.exitCode).toBe(0);
    expect(engine.stderr.trim().split('\n')).toEqual([expect.stringMatching(/binary engine skipped \(BLU_NATIVE_ENGINE=0\)/)]);
    const tensorflow = await run('--tensorflow-only');
    expect(tensorflow.exitCode).toBe(0);
    expect(tensorflow.stderr.trim().split('\n')).toEqual([expect.stringMatching(/TensorFlow backend skipped \(BLU_NATIVE=0\)/)]);
  });
});

describe.skipIf(!nativeInstalled)('an installed native backend', () => {
  it('install is idempotent and fast; status reports the verified library', async () => {
    const again = await execa(process.execPath, [CLI, 'native', 'install'], { cwd: REPO, reject: false });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/already installed and verified; nothing to do/);
    const status = await execa(process.execPath, [CLI, 'native', 'status', '--json'], { cwd: REPO, reject: false });
    const parsed = JSON.parse(status.stdout) as { usable: boolean; state: { tfVersion: string; maxRelativeError: number } };
    expect(parsed.usable).toBe(true);
    expect(parsed.state.tfVersion).toMatch(/^2\.\d+\.\d+$/);
    expect(parsed.state.maxRelativeError).toBeLessThan(1e-4);
  });

  it('status --verify loads the library in a fresh process and checks conv gradients again', async () => {
    const r = await execa(process.execPath, [CLI, 'native', 'status', '--verify'], { cwd: REPO, reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/native TensorFlow backend: ready \(loaded and checked just now\)/);
  }, 120_000);
});

describe('native --help and usage', () => {
  it('prints usage with exit 0 for --help and exit 2 for an unknown subcommand', async () => {
    const help = await cli(['native', '--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/usage: blu-pipe native <install\|status\|engine>/);
    const bad = await cli(['native', 'build']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/unknown subcommand 'native build'/);
  });
});
