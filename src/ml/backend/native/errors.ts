/** Why the native backend could not be had. Stable codes: scripts and tests match on them. */
export type NativeErrorCode =
  | 'NATIVE_NO_SOURCE' // no libtensorflow source was given or could be downloaded
  | 'NATIVE_BAD_SOURCE' // the source is not a TensorFlow wheel, libtensorflow archive or directory
  | 'NATIVE_NO_C_API' // the library does not export the TensorFlow C API
  | 'NATIVE_NO_COMPILER' // no C++ toolchain (or Python for node-gyp)
  | 'NATIVE_NO_NODE_HEADERS' // node-gyp would have to download Node's headers
  | 'NATIVE_NPM_FAILED' // fetching the tfjs-node package failed
  | 'NATIVE_BUILD_FAILED' // the addon did not compile
  | 'NATIVE_VERIFY_FAILED' // it built but does not load or compute correctly
  | 'NATIVE_UNSUPPORTED'; // platform without a native build path

export interface NativeError {
  readonly code: NativeErrorCode;
  /** What is wrong, in one sentence. */
  readonly message: string;
  /** What to do about it. */
  readonly fix: string;
  /** Extra lines (compiler output tail, …) for the full report; never needed to understand the error. */
  readonly detail?: readonly string[];
}

export function nativeError(code: NativeErrorCode, message: string, fix: string, detail?: readonly string[]): NativeError {
  return detail === undefined ? { code, message, fix } : { code, message, fix, detail };
}

/** The last n non-empty lines of a tool's output, for an error's detail. */
export function lastLines(text: string, n: number): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-n);
}

/** Errors about what the user handed us (exit 2) versus what failed while building (exit 1). */
export function isUsageError(error: NativeError): boolean {
  return error.code === 'NATIVE_BAD_SOURCE' || error.code === 'NATIVE_NO_C_API' || error.code === 'NATIVE_NO_SOURCE';
}
