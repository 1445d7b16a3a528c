/** The backend the model tests run on (wasm, or native in the ml-native project), with our training kernels. */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/ml/backend/index.js';
import { TEST_BACKEND } from '../test-backend.js';

export async function useTestBackend(): Promise<string> {
  const result = await initBackend(TEST_BACKEND);
  if (!result.ok) throw new Error(result.error.message);
  return tf.getBackend();
}
