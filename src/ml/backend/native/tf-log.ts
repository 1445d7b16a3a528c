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
