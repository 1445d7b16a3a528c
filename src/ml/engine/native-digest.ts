/**
 * Build step (`npm run build`): writes the digest of the native engine's C++ sources beside
 * native-build.js. Step kinds that time or run the engine reach native-build.js, which names this
 * file as an asset, so the code hash (runtime/kinds/code-hash.ts) follows the C++ kernels as it follows the
 * wasm ones: an edited kernel reruns the latency steps instead of leaving their figures "fresh".
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATIVE_SOURCES_DIGEST, nativeEngineSourceDigest } from './native-build.js';

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), NATIVE_SOURCES_DIGEST);
writeFileSync(file, `${nativeEngineSourceDigest() ?? 'no native sources'}\n`);
