/**
 * libtensorflow writes a few lines to stderr before its logging is initialised, so that
 * TF_CPP_MIN_LOG_LEVEL cannot silence them (TF 2.21: the absl pre-init notice and the
 * "oneDNN custom operations are on" line). Step output drops them unless BLU_TF_LOG=1.
 */
const PRE_INIT_NOTICE = 'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR';
// absl format: severity letter, MMDD, time (TF 2.21 prints 00:00:<epoch seconds>), thread id, file:line]
const TF_LOG_LINE = /^[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w.]+\.cc:\d+\] /;

export function isTensorflowInfoLine(line: string): boolean {
  return line === PRE_INIT_NOTICE || TF_LOG_LINE.test(line);
}

/** The filter step runners use: none when the user asked to see TensorFlow's own logging. */
export function tensorflowLogFilter(env: Readonly<Record<string, string | undefined>>): ((line: string) => boolean) | undefined {
  return env.BLU_TF_LOG === '1' ? undefined : isTensorflowInfoLine;
}

/** Set in the child that rerunWithTensorflowLogFiltered starts, so it runs the command itself. */
const FILTERED_MARK = 'BLU_TF_LOG_FILTERED';

/**
 * Those lines go straight to file descriptor 2 from C++, so a process that may load libtensorflow
 * (doctor, predict, the benchmarks) cannot drop them itself: it reruns itself as a child whose
 * stderr passes through the filter, line by line. Returns the child's exit code, or null when this
 * process is that child or BLU_TF_LOG=1 asks for everything (the caller then just goes on).
 */
export async function rerunWithTensorflowLogFiltered(
  script: string,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<number | null> {
  const drop = tensorflowLogFilter(env);
  if (!drop || env[FILTERED_MARK] === '1') return null;
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...env, [FILTERED_MARK]: '1' },
  });
  // Ctrl-C reaches the child too (same process group); this process only waits for it to finish.
  const forward = (signal: NodeJS.Signals): void => void child.kill(signal);
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', forward);
  let partial = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    const kept = lines.filter((line) => !drop(line));
    if (kept.length > 0) process.stderr.write(`${kept.join('\n')}\n`);
  });
  return new Promise((resolve) => {
    child.on('error', (error) => {
      process.stderr.write(`blu-pipe: could not start ${process.execPath}: ${error.message}\n`);
      resolve(1);
    });
    child.on('close', (code, signal) => {
      if (partial !== '' && !drop(partial)) process.stderr.write(partial);
      resolve(code ?? 128 + signalNumber(signal));
    });
  });
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === 'SIGINT' ? 2 : signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1;
}
