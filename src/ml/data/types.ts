/** One decoded image/mask pair, kept on the CPU as typed arrays (row-major, one channel). */
export interface Sample {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  /** Intensities scaled to 0..1. */
  readonly image: Float32Array;
  /** Binary mask, 0 or 1. */
  readonly mask: Uint8Array;
}

export interface DatasetSplit {
  readonly train: Sample[];
  readonly validation: Sample[];
  readonly test: Sample[];
}

export type DataErrorCode = 'missing-folder' | 'missing-mask' | 'size-mismatch' | 'decode-failed' | 'empty-dataset' | 'bad-option';

export interface DataError {
  readonly code: DataErrorCode;
  readonly message: string;
  /** The file or folder the error is about. */
  readonly path: string;
}
