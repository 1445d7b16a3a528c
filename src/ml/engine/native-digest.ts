/**
 * Build step (`npm run build`): writes the digest of the native engine's C++ sources beside
 * native-build.js. Step kinds that time or run the engine reach native-build.js, which names this
 * file as an asset, so the code hash (runtime/kinds/code-hash.ts) follows the C++ kernels as it follows the
 * wasm ones: an edited kernel reruns the latency steps instead of leaving their figures "fresh".
 * The digest is of the sources' shape (native-shape.ts), so a comment edit reruns nothing.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATIVE_SOURCES_DIGEST, nativeEngineSources } from './native-build.js';
import { nativeEngineShapeDigest } from './native-shape.js';

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), NATIVE_SOURCES_DIGEST);
writeFileSync(file, `${nativeEngineShapeDigest(nativeEngineSources()) ?? 'no native sources'}\n`);
