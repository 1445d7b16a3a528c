/**
 * The backend the ML tests train on. vitest runs test/ml once per available backend (projects
 * `ml-wasm` and, when npm ci verified tfjs-node, `ml-native`; see vitest.config.ts) with
 * BLU_TEST_BACKEND set. Its value is both blu-pipe's and tfjs's name for the backend.
 */
export const TEST_BACKEND: 'wasm' | 'tensorflow' = process.env.BLU_TEST_BACKEND === 'tensorflow' ? 'tensorflow' : 'wasm';
