import type { PathSegment, SourceMap } from './load/diagnostics.js';
import type { JsonObject, JsonValue } from '../base/result.js';
import type { EmptyStep } from './load/matrix.js';
import type { OutputDecl, StepResources } from './step-spec.js';

export interface Position {
  readonly line: number;
  readonly col: number;
}

/** One runnable instance of a step (a matrix step has one per combination). */
export interface StepInstance {
  readonly id: string; // e.g. ablation@model=lw_unet
  readonly name: string;
  readonly matrix: Readonly<Record<string, JsonValue>> | null;
  readonly kind: string; // 'run' or a registered kind
  readonly kindVersion: string;
  readonly command: readonly string[] | null;
  readonly with: JsonValue;
  /** Params the step depends on: dotted path → resolved value. */
  readonly params: Readonly<Record<string, JsonValue>>;
  /**
   * What tracking logs as the instance's params: its matrix values and, for `uses:` steps, the
   * `with:` values it actually uses (see StepKindDefinition.effectiveWith); `params` when absent.
   */
  readonly trackedParams?: Readonly<Record<string, JsonValue>>;
  readonly deps: readonly string[]; // project-relative POSIX (may start with ../), or absolute when declared so outside the project
  readonly outs: readonly OutputDecl[];
  /** Explicit and implied upstream instance ids. */
  readonly needs: readonly string[];
  /** Variables set for the step (explicit values and pass-through names that are set). */
  readonly env: Readonly<Record<string, string>>;
  /** Part of the key: declared names → value (null when unset). */
  readonly envKey: Readonly<Record<string, string | null>>;
  readonly resources: StepResources;
  readonly timeoutMs: number | null;
  readonly retries: number;
  readonly cache: boolean;
  readonly alwaysRun: boolean;
  /** Where the step is declared (a path into the pipeline document; turned into line:col only for errors). */
  readonly at: readonly PathSegment[];
  /** Where each `needs:` entry (or the dep implying it) was written, by the instance id it resolved to. */
  readonly needsAt: Readonly<Record<string, readonly PathSegment[]>>;
}

export interface TrackingConfig {
  readonly experiment: string;
  readonly trackingUri: string | null;
  readonly enabled: boolean;
}

export interface Pipeline {
  readonly file: string; // absolute
  readonly displayFile: string; // as the user gave it
  readonly projectDir: string; // absolute
  readonly name: string;
  readonly params: JsonObject;
  readonly tracking: TrackingConfig;
  readonly overlays: readonly string[]; // as given
  readonly overlayFiles: readonly string[]; // absolute
  readonly steps: readonly StepInstance[];
  /** Steps with no instances because a matrix list is empty; absent from `steps` (and `status`/`dag`). */
  readonly emptySteps?: readonly EmptyStep[];
  readonly source: SourceMap;
}
