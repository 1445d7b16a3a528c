/** Loads a pipeline written into a throw-away project, with overlays and --set, as `blu-pipe` would. */
import { afterEach } from 'vitest';
import type { StepKindDefinition } from '../../src/runtime/kinds/kind.js';
import { StepKindRegistry } from '../../src/runtime/kinds/kind.js';
import { formatDiagnostic } from '../../src/runtime/load/diagnostics.js';
import { loadPipeline } from '../../src/runtime/load/load.js';
import { TempProject } from './project.js';

export interface LoadOptions {
  readonly overlays?: Readonly<Record<string, string>>;
  readonly sets?: readonly string[];
}

/** A `load(yaml, options)` for one test file, its projects removed after each test. */
export function loaderWith(...kinds: StepKindDefinition[]) {
  const projects: TempProject[] = [];
  afterEach(() => projects.splice(0).forEach((p) => p.dispose()));
  return async (yaml: string, options: LoadOptions = {}) => {
    const p = new TempProject();
    projects.push(p);
    p.write('p.yaml', yaml);
    for (const [name, text] of Object.entries(options.overlays ?? {})) p.write(name, text);
    const registry = kinds.reduce((r, k) => r.register(k), new StepKindRegistry());
    const result = await loadPipeline({
      file: 'p.yaml',
      cwd: p.dir,
      overlays: Object.keys(options.overlays ?? {}),
      sets: [...(options.sets ?? [])],
      registry,
      env: { HOME: '/root' },
    });
    return { result, messages: result.ok ? [] : result.error.map(formatDiagnostic) };
  };
}
