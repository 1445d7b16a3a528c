/**
 * Run by `npm ci` / `npm install` (package.json "prepare", after the TypeScript build). Gets the
 * native TensorFlow backend when it can, and never fails the install: wasm always works.
 */
import { installNative, installSummary } from './install.js';

const say = (line: string): void => void process.stderr.write(`blu-pipe: ${line}\n`);

async function main(): Promise<void> {
  if (process.env.BLU_NATIVE === '0') return say('native TensorFlow backend skipped (BLU_NATIVE=0); the wasm backend will be used');
  say(installSummary(await installNative({ env: process.env, report: say })));
}

main()
  .catch((e: unknown) => say(`no native TensorFlow backend (unexpected: ${e instanceof Error ? e.message : String(e)}); the wasm backend will be used`))
  .finally(() => {
    process.exitCode = 0;
  });
