/** Builds valid ActionCacheEntry values for tests. */
import { computeStepKey } from '../../src/artifacts/canonical.js';
import type { ActionCacheEntry, KeyComponents, StoredOutput } from '../../src/artifacts/types.js';

export function makeEntry(stepId: string, outputs: StoredOutput[], extra: Partial<ActionCacheEntry> = {}): ActionCacheEntry {
  const components: KeyComponents = {
    keySchema: 1,
    kind: 'run',
    kindVersion: '1',
    command: ['echo', stepId],
    with: null,
    params: {},
    deps: {},
    upstream: {},
    env: {},
    outs: outputs.map((o) => o.path),
  };
  return {
    schema: 1,
    key: computeStepKey(components),
    stepId,
    components,
    outputs,
    metrics: { loss: 0.25 },
    series: [{ name: 'loss', value: 0.25, step: 1, timestamp: 1_700_000_000_000 }],
    durationMs: 1234,
    producer: {
      runId: 'run-1',
      stepId,
      host: 'test-host',
      pid: 4242,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.234Z',
    },
    ...extra,
  };
}
