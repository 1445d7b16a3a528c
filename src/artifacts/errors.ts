/** Failures of the artifacts layer, with stable codes so callers can branch without parsing text. */
export type ArtifactErrorCode =
  | 'outside-project' // a path escapes the project directory
  | 'missing-path' // an output or dep path does not exist
  | 'missing-blob' // the CAS lacks a blob a manifest or output needs
  | 'corrupt-manifest' // a tree blob is not a valid manifest
  | 'corrupt-blob' // a blob's bytes no longer hash to its name (it has been evicted)
  | 'unsupported-file-type'; // sockets, fifos, devices

export class ArtifactError extends Error {
  constructor(
    readonly code: ArtifactErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ArtifactError';
  }
}

export function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

export function hasErrno(error: unknown, code: string): boolean {
  return isErrnoException(error) && error.code === code;
}
