/** Shapes shared by the content-addressed store, the action cache and the runtime. */

/** Lower-case hex SHA-256 of a blob's bytes, or of a tree manifest's canonical JSON. */
export type Sha256 = string & { readonly __brand: 'Sha256' };
/** Hex SHA-256 of a step's canonical key document. */
export type StepKey = string & { readonly __brand: 'StepKey' };

/** One output path of a step as stored: a file (blob) or a directory (tree manifest). */
export interface StoredOutput {
  /** Project-relative POSIX path, as declared in the pipeline. */
  readonly path: string;
  readonly type: 'file' | 'dir';
  /** Blob hash for a file, manifest hash for a directory. */
  readonly hash: Sha256;
  /** Total bytes (sum over files for a directory). */
  readonly size: number;
  /** Files only: the executable bit. */
  readonly executable?: boolean;
  /**
   * A `cache: false` output: hashed and recorded (the lock, consumed digests and `status --verify`
   * cover it) but never stored, so it cannot be restored; only a run recreates it.
   */
  readonly uncached?: true;
}

/** Whether the cache holds this output's bytes (false for `cache: false` outputs, which are only recorded). */
export function isStored(output: StoredOutput): boolean {
  return output.uncached !== true;
}

/** One entry of a directory manifest, sorted by path. */
export interface TreeEntry {
  readonly path: string; // relative to the directory, POSIX
  readonly hash: Sha256;
  readonly size: number;
  readonly executable: boolean;
}

/** A metric point reported by a step (`step` = epoch/iteration when the series has one). */
export interface MetricPoint {
  readonly name: string;
  readonly value: number;
  readonly step: number;
  readonly timestamp: number; // ms since epoch
}

/** Who produced an action-cache entry: used to link restored steps to their source run. */
export interface Producer {
  readonly runId: string;
  readonly stepId: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: string; // ISO
  readonly finishedAt: string; // ISO
  /** Set by executors that have one (e.g. the Slurm job id). */
  readonly jobId?: string;
}

/**
 * key → outputs + recorded metrics. Written last, atomically: its presence is the commit point of
 * a step. `components` keeps the key's parts so that staleness can be explained by diffing them.
 */
export interface ActionCacheEntry {
  readonly schema: 1;
  readonly key: StepKey;
  readonly stepId: string;
  readonly components: KeyComponents;
  readonly outputs: readonly StoredOutput[];
  /** Final value of every metric the step reported (last point per name). */
  readonly metrics: Readonly<Record<string, number>>;
  /** Tags the step reported (last value per key); absent when it reported none. */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * Content digests of the upstream outputs this step read when it ran: upstream output path →
   * blob or manifest hash (a dep inside an upstream directory counts as that directory). Keys name
   * upstream steps by provenance; this records the bytes, so a result computed from bytes the
   * upstream no longer holds is never taken as fresh. Absent in entries written before it existed.
   */
  readonly consumed?: Readonly<Record<string, Sha256>>;
  /** Full series, so that trackers can show curves for restored steps too. */
  readonly series: readonly MetricPoint[];
  /** Hash of the attempt's log in the CAS (so a restored step can still show its log). */
  readonly logHash?: Sha256;
  readonly durationMs: number;
  readonly producer: Producer;
}

/** The parts hashed into a step key. Everything here is canonical JSON-able. */
export interface KeyComponents {
  readonly keySchema: 1;
  readonly kind: string;
  readonly kindVersion: string;
  /** argv for `run:` steps; the kind's resolved `with:` for `uses:` steps. */
  readonly command: readonly string[] | null;
  readonly with: unknown;
  readonly params: Readonly<Record<string, unknown>>;
  /** Project-relative path → content hash (files and directories). */
  readonly deps: Readonly<Record<string, string>>;
  /** Upstream step id → that step's key (provenance). */
  readonly upstream: Readonly<Record<string, string>>;
  /** Declared env variables → value (absent variables map to null). */
  readonly env: Readonly<Record<string, string | null>>;
  /** Declared output paths (changing what is declared changes the key). */
  readonly outs: readonly string[];
  /** `uses:` kinds: hash of the kind's module graph as built (absent for `run:` steps). */
  readonly code?: string;
}
