import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { isTensorflowInfoLine, tensorflowLogFilter } from '../../src/ml/backend/native/tf-log.js';
import { CLI } from '../rig/project.js';

const PRE_INIT = 'All log messages before absl::InitializeLog()';
const ONEDNN = 'oneDNN custom operations are on';

describe('TensorFlow start-up lines in step logs', () => {
  // Printed by TF 2.21 before its logging is initialised, whatever TF_CPP_MIN_LOG_LEVEL says.
  const preInit = [
    'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR',
    'I0000 00:00:1795941262.932119   26366 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results.',
    'W0000 00:00:1795941262.932119   26366 cpu_feature_guard.cc:227] This TensorFlow binary is optimized to use available CPU instructions',
  ];

  it('recognises them, and nothing a step prints itself', () => {
    for (const line of preInit) expect(isTensorflowInfoLine(line)).toBe(true);
    for (const line of [
      'epoch 3: loss 0.31',
      'E0000 00:00:1795941262.932119 26366 op.cc:1] a real error',
      'I love port.cc:153] lines',
      '',
    ]) {
      expect(isTensorflowInfoLine(line)).toBe(false);
    }
  });

  it('keeps everything when BLU_TF_LOG=1', () => {
    expect(tensorflowLogFilter({ BLU_TF_LOG: '1' })).toBeUndefined();
    expect(tensorflowLogFilter({})?.(preInit[0]!)).toBe(true);
  });
});

describe('TensorFlow start-up lines of the commands that load it (real CLI)', () => {
  const doctor = (env: Record<string, string>) =>
    execa(process.execPath, [CLI, 'doctor'], { reject: false, env: { BLU_BACKEND: 'tensorflow', ...env } });

  it('doctor drops them unless BLU_TF_LOG=1; predict, rerun the same way, keeps its exit code and its own messages', async () => {
    const shown = await doctor({ BLU_TF_LOG: '1' });
    // Without the native backend there is nothing to drop, and nothing this test can tell.
    if (!String(shown.stdout).includes('Active backend: tensorflow')) return void console.warn('[tf-log e2e skipped] no native backend');
    expect(shown.stderr).toContain(PRE_INIT);
    const quiet = await doctor({});
    expect([quiet.exitCode, quiet.stdout]).toEqual([shown.exitCode, expect.stringContaining('Active backend: tensorflow')]);
    expect(quiet.stderr).not.toContain(PRE_INIT);
    expect(quiet.stderr).not.toContain(ONEDNN);
    const predict = await execa(process.execPath, [CLI, 'predict', 'no-such-model', 'x', '--out', 'o'], { reject: false });
    expect(predict.exitCode).toBe(2);
    expect(predict.stderr).toMatch(/^blu-pipe: /);
  }, 60_000);
});
