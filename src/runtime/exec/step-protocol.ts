import type { StepProgress } from '../events.js';

/**
 * Steps report progress and metrics by printing lines that start with `::blu::` followed by JSON:
 *   ::blu::{"progress":{"label":"epoch","current":3,"total":20,"metrics":{"loss":0.31}}}
 *   ::blu::{"metric":{"name":"val_iou","value":0.81,"step":3}}
 *   ::blu::{"tag":{"key":"blu.collapsed","value":"val IoU stayed 0"}}
 * Any program can do this (a Python script in a `run:` step too); the same lines work in a Slurm
 * job's log file, so one parser serves every executor.
 */
export const PROTOCOL_PREFIX = '::blu::';

export type ProtocolMessage =
  | { readonly type: 'progress'; readonly progress: StepProgress }
  | { readonly type: 'metric'; readonly name: string; readonly value: number; readonly step: number; readonly timestamp: number }
  | { readonly type: 'tag'; readonly key: string; readonly value: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const NON_FINITE: Readonly<Record<string, number>> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity };

function decodeNumber(value: unknown): number | null {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value in NON_FINITE) return NON_FINITE[value] ?? null;
  return null;
}

/** Parses one output line; returns null for ordinary output or malformed protocol lines. */
export function parseProtocolLine(line: string, now: () => number = Date.now): ProtocolMessage | null {
  if (!line.startsWith(PROTOCOL_PREFIX)) return null;
  let body: unknown;
  try {
    body = JSON.parse(line.slice(PROTOCOL_PREFIX.length));
  } catch {
    return null;
  }
  if (!isRecord(body)) return null;
  if (isRecord(body.progress)) return { type: 'progress', progress: body.progress as StepProgress };
  const tag = body.tag;
  if (isRecord(tag))
    return typeof tag.key === 'string' && tag.key !== '' && typeof tag.value === 'string'
      ? { type: 'tag', key: tag.key, value: tag.value }
      : null;
  const metric = body.metric;
  const value = isRecord(metric) ? decodeNumber(metric.value) : null;
  if (isRecord(metric) && typeof metric.name === 'string' && value !== null) {
    const step = typeof metric.step === 'number' ? metric.step : 0;
    const timestamp = typeof metric.timestamp === 'number' ? metric.timestamp : now();
    return { type: 'metric', name: metric.name, value, step, timestamp };
  }
  return null;
}

export function formatProgressLine(progress: StepProgress): string {
  return `${PROTOCOL_PREFIX}${JSON.stringify({ progress })}`;
}

export function formatMetricLine(name: string, value: number, step: number, timestamp = Date.now()): string {
  // JSON has no NaN/Infinity: encode them as strings the parser turns back into numbers.
  const encoded = Number.isFinite(value) ? value : String(value);
  return `${PROTOCOL_PREFIX}${JSON.stringify({ metric: { name, value: encoded, step, timestamp } })}`;
}

export function formatTagLine(key: string, value: string): string {
  return `${PROTOCOL_PREFIX}${JSON.stringify({ tag: { key, value } })}`;
}
