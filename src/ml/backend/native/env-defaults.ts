type MutableEnv = Record<string, string | undefined>;

/**
 * Settings libtensorflow reads from the environment when it loads; the user's own values win.
 * - oneDNN: TF leaves it off on AMD CPUs; turning it on was measured at 1.3–1.5× for our models.
 * - C++ logging: TF prints info lines (oneDNN notices, CPU feature hints) to stderr on load,
 *   which would bury step output. BLU_TF_LOG=1 (or a TF_CPP_MIN_LOG_LEVEL of your own) keeps them.
 */
export function applyNativeEnvDefaults(env: MutableEnv): void {
  env.TF_ENABLE_ONEDNN_OPTS ??= '1';
  if (env.BLU_TF_LOG !== '1') env.TF_CPP_MIN_LOG_LEVEL ??= '2';
}

/** oneDNN as the loaded library sees it, and who decided. */
export function onednnSetting(env: Readonly<MutableEnv>, userSet: boolean): string {
  const value = env.TF_ENABLE_ONEDNN_OPTS;
  if (value === undefined) return 'TensorFlow default (off on AMD CPUs, on for recent Intel ones)';
  const on = value === '1' || value.toLowerCase() === 'true';
  return `${on ? 'on' : 'off'} (TF_ENABLE_ONEDNN_OPTS=${value}${userSet ? ', set by you' : ', blu-pipe default'})`;
}

/** Thread settings TensorFlow honours, as far as the environment decides them. */
export function threadSettings(env: Readonly<MutableEnv>, cores: number): string {
  const set = ['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'OMP_NUM_THREADS']
    .filter((name) => env[name] !== undefined)
    .map((name) => `${name}=${env[name]}`);
  return set.length > 0 ? set.join(', ') : `TensorFlow defaults (intra-op and inter-op pools sized to the ${cores} cores)`;
}
