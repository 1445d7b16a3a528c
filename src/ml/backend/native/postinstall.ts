/**
 * Run by `npm ci` / `npm install` (package.json "prepare", after the TypeScript build). Gets the
 * native TensorFlow backend when it can, and never fails the install: wasm always works.
 * `--engine-only` (the end of `npm run build`): only the binary engine's addon, so an edit of its
 * C++ kernels is built with the TypeScript; `--tensorflow-only`: only the TensorFlow backend.
 */
import { buildNativeEngine } from '../../engine/native-build.js';
import { installNative, installSummary } from './install.js';

const say = (line: string): void => void process.stderr.write(`blu-pipe: ${line}\n`);

/** The binary engine's C++ kernels: one line either way; without them the wasm engine runs. */
async function nativeEngine(): Promise<void> {
  if (process.env.BLU_NATIVE_ENGINE === '0') return say('native binary engine skipped (BLU_NATIVE_ENGINE=0); the wasm engine will be used');
  const built = await buildNativeEngine(process.env);
  say(
    built.ok
      ? `native binary engine ${built.value.how === 'cached' ? 'ready (cached)' : 'compiled'}: ${built.value.file}`
      : `no native binary engine (${built.error}); the wasm engine will be used`,
  );
}

async function main(): Promise<void> {
  if (!process.argv.includes('--tensorflow-only'))
    await nativeEngine().catch((e: unknown) =>
      say(`no native binary engine (unexpected: ${e instanceof Error ? e.message : String(e)}); the wasm engine will be used`),
    );
  if (process.argv.includes('--engine-only')) return;
  if (process.env.BLU_NATIVE === '0') return say('native TensorFlow backend skipped (BLU_NATIVE=0); the wasm backend will be used');
  say(installSummary(await installNative({ env: process.env, report: say })));
}

main()
  .catch((e: unknown) =>
    say(`no native TensorFlow backend (unexpected: ${e instanceof Error ? e.message : String(e)}); the wasm backend will be used`),
  )
  .finally(() => {
    process.exitCode = 0;
  });
