/** TypeScript shape of a pipeline file after schema validation (see pipeline.schema.json). */
import type { JsonObject, JsonValue } from '../base/result.js';

export type RawDuration = number | string;
export type RawEnv = readonly string[] | Readonly<Record<string, string | number | boolean>>;

export interface RawResources {
  readonly cpus?: number | 'all';
  readonly mem?: string;
  readonly gpus?: number;
  readonly time?: string;
  readonly partition?: string;
  readonly sbatch?: readonly string[];
  readonly custom?: Readonly<Record<string, number>>;
}

export type RawOutput = string | { readonly path: string; readonly cache?: boolean; readonly persist?: boolean; readonly track?: boolean };

export interface RawStep {
  readonly description?: string;
  readonly run?: string | readonly (string | number)[];
  readonly uses?: string;
  readonly with?: JsonObject;
  readonly needs?: readonly string[];
  /** Per key: the values, or `${params.<path>}` naming a param that holds them. */
  readonly matrix?: Readonly<Record<string, readonly (string | number | boolean | JsonObject)[] | string>>;
  readonly deps?: readonly string[];
  readonly outs?: readonly RawOutput[];
  readonly params?: readonly string[];
  readonly env?: RawEnv;
  readonly resources?: RawResources;
  readonly timeout?: RawDuration;
  readonly retries?: number;
  readonly cache?: boolean;
  readonly always_run?: boolean;
}

export interface RawPipeline {
  readonly name?: string;
  readonly description?: string;
  readonly params?: JsonObject;
  readonly mlflow?: { readonly experiment?: string; readonly tracking_uri?: string; readonly enabled?: boolean };
  readonly defaults?: {
    readonly env?: RawEnv;
    readonly resources?: RawResources;
    readonly timeout?: RawDuration;
    readonly retries?: number;
  };
  readonly steps: Readonly<Record<string, RawStep>>;
}

export interface RawOverlay {
  readonly description?: string;
  readonly params?: JsonObject;
  readonly mlflow?: { readonly experiment?: string };
}

export type { JsonValue };
