import { describe, expect, it } from 'vitest';
import { isTensorflowInfoLine, tensorflowLogFilter } from '../../src/ml/backend/native/tf-log.js';

describe('TensorFlow start-up lines in step logs', () => {
  // Printed by TF 2.21 before its logging is initialised, whatever TF_CPP_MIN_LOG_LEVEL says.
  const preInit = [
    'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR',
    'I0000 00:00:1795941262.932119   26366 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results.',
    'W0000 00:00:1795941262.932119   26366 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions',
  ];

  it('recognises them, and nothing a step prints itself', () => {
    for (const line of preInit) expect(isTensorflowInfoLine(line)).toBe(true);
    for (const line of ['epoch 3: loss 0.31', 'E0000 00:00:1795941262.932119 26366 op.cc:1] a real error', 'I love port.cc:153] lines', '']) {
      expect(isTensorflowInfoLine(line)).toBe(false);
    }
  });

  it('keeps everything when BLU_TF_LOG=1', () => {
    expect(tensorflowLogFilter({ BLU_TF_LOG: '1' })).toBeUndefined();
    expect(tensorflowLogFilter({})?.(preInit[0]!)).toBe(true);
  });
});
