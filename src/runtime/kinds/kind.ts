import type { JsonValue } from '../../base/result.js';
import type { Result } from '../../base/result.js';
import type { StepReport } from '../executor.js';
import type { OutputDecl, StepResources, StepSpec } from '../step-spec.js';

/** What a `uses:` step declares about itself, derived purely from its validated `with:`. */
export interface StepDeclaration {
  /** Project-relative input paths hashed into the key (files or directories). */
  readonly deps: readonly string[];
  readonly outs: readonly OutputDecl[];
  /** Step names this step reads outputs from (added to `needs:`). */
  readonly needs: readonly string[];
  readonly resources?: StepResources;
}

/** Everything a step implementation gets while it runs (in the worker process). */
export interface StepRunContext {
  readonly spec: StepSpec;
  /** Absolute path of a project-relative path. */
  resolve(projectPath: string): string;
  /** Appends a line to the attempt's log. */
  log(line: string): void;
  readonly report: StepReport;
  readonly signal: AbortSignal;
}

export interface StepRunFailure {
  readonly message: string;
}

export interface StepImplementation {
  run(context: StepRunContext): Promise<Result<void, StepRunFailure>>;
}

/**
 * A step kind usable as `uses: <name>`. Planning needs only `withSchema` and `declare`, so the
 * heavy implementation (e.g. TensorFlow.js) is imported lazily by `load` in the worker.
 */
export interface StepKindDefinition {
  readonly name: string;
  /** Part of every step key of this kind; bump it to rerun the kind's steps without a code change. */
  readonly version: string;
  /**
   * The module `load` imports. When given, the hash of its module graph as built is part of every
   * key of this kind, so a change to code the kind uses reruns its steps ("code changed").
   */
  readonly implementation?: URL;
  readonly description: string;
  /** JSON Schema of `with:`. */
  readonly withSchema: Readonly<Record<string, unknown>>;
  declare(input: { readonly stepId: string; readonly name: string; readonly with: JsonValue }): StepDeclaration;
  /** The settings an instance really uses, for tracking (e.g. one learning rate of a per-model map); default: `with:` as is. */
  effectiveWith?(value: JsonValue): JsonValue;
  load(): Promise<StepImplementation>;
}

export class StepKindRegistry {
  readonly #kinds = new Map<string, StepKindDefinition>();

  register(kind: StepKindDefinition): this {
    if (this.#kinds.has(kind.name)) throw new Error(`step kind '${kind.name}' registered twice`);
    this.#kinds.set(kind.name, kind);
    return this;
  }

  get(name: string): StepKindDefinition | undefined {
    return this.#kinds.get(name);
  }

  names(): string[] {
    return [...this.#kinds.keys()].sort();
  }
}
