import type { StepKindDefinition } from '../../runtime/kinds/kind.js';
import { ARTIFACT, artifactPath, out, withOf } from './common.js';

/** `with:` of a `dataset` step. */
export interface DatasetWith {
  /** Local dataset folder (project-relative or absolute). */
  readonly path?: string;
  /**
   * A pinned data set: a manifest (project-relative TSV, see impl/sources.ts) of every file's public
   * source, SHA-256 and pixels. The key covers the manifest, not the folder's PNG bytes; the step uses
   * `path` when it exists (checked pixel by pixel against the manifest), else fetches the pinned files.
   */
  readonly sources?: string | null;
  /** Or: an archive (.zip, .tar, .tar.gz) downloaded once and checked against `sha256`. */
  readonly url?: string;
  readonly sha256?: string;
  readonly layout: 'split-folders' | 'dic1';
  /** Downscale factor in (0, 1] applied once, when the dataset is materialised. */
  readonly scale?: number;
  /** Keep only the first N images (sorted by name) of each split. */
  readonly max_images?: { readonly train?: number; readonly validation?: number; readonly test?: number };
  /**
   * Optional robustness check: derive a different-looking set from the source. The first
   * `images` of each split; from each, the densest window of width/zoom × height/zoom source
   * pixels, resized to width×height, then `scale` and `max_images` apply as usual.
   */
  readonly derive?: {
    readonly images: { readonly train: number; readonly validation: number; readonly test: number };
    readonly width: number;
    readonly height: number;
    readonly zoom: number;
  } | null;
}

const MAX = { type: 'integer', minimum: 1 } as const;

export const datasetKind: StepKindDefinition = {
  name: 'dataset',
  version: '1',
  implementation: new URL('./impl/dataset.js', import.meta.url),
  description: 'Materialises a segmentation dataset (local folder or pinned download) as a cached split-folders artifact with a summary',
  withSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['layout'],
    anyOf: [{ required: ['path'] }, { required: ['url', 'sha256'] }],
    properties: {
      path: { type: 'string', minLength: 1 },
      sources: {
        description:
          'Manifest of a pinned data set (TSV: public sources, SHA-256s, transform, pixel hashes); used instead of hashing the folder, and to fetch it when the folder is absent; null: off',
        oneOf: [{ type: 'null' }, { type: 'string', minLength: 1 }],
      },
      url: { type: 'string', pattern: '^https?://' },
      sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
      layout: { enum: ['split-folders', 'dic1'] },
      scale: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
      max_images: {
        type: 'object',
        additionalProperties: false,
        properties: { train: MAX, validation: MAX, test: MAX },
      },
      derive: {
        description:
          'Robustness check: a derived data set (first `images` per split, densest window of width/zoom x height/zoom source pixels resized to width x height); null: off',
        oneOf: [
          { type: 'null' },
          {
            type: 'object',
            additionalProperties: false,
            required: ['images', 'width', 'height', 'zoom'],
            properties: {
              images: {
                type: 'object',
                additionalProperties: false,
                required: ['train', 'validation', 'test'],
                properties: { train: MAX, validation: MAX, test: MAX },
              },
              width: { type: 'integer', minimum: 16 },
              height: { type: 'integer', minimum: 16 },
              zoom: { type: 'number', minimum: 1, description: 'Magnification: 2 makes cells twice as large in pixels' },
            },
          },
        ],
      },
    },
  },
  declare({ stepId, with: value }) {
    const w = withOf<DatasetWith>(value);
    return {
      // A pinned set is keyed by its manifest (source hashes and pixel hashes): the folder may be absent.
      deps: w.sources ? [w.sources] : w.path !== undefined ? [w.path] : [],
      outs: [out(artifactPath(stepId, ARTIFACT.data)), out(artifactPath(stepId, ARTIFACT.summary), true)],
      needs: [],
    };
  },
  async load() {
    const { datasetStep } = await import('./impl/dataset.js');
    return datasetStep;
  },
};
