import { describeEmptyStep } from '../../runtime/load/matrix.js';
import { loadPipeline } from '../../runtime/load/load.js';
import type { StepInstance } from '../../runtime/pipeline.js';
import { topologicalOrder } from '../../runtime/graph.js';
import { builtinRegistry } from '../../steps/registry.js';
import { PIPELINE_OPTIONS, parse, stringList, stringValue } from '../args.js';
import type { CliIO, ExitCode } from '../io.js';
import { EXIT } from '../io.js';
import { printDiagnostics, usageError } from '../output.js';

const USAGE = `usage: blu-pipe dag <pipeline.yaml> [--format text|mermaid|dot] [-e overlay] [--set p=v]`;

export async function dagCommand(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const parsed = parse(argv, { ...PIPELINE_OPTIONS, format: { type: 'string', short: 'f' } });
  if (!parsed.ok) return usageError(io, parsed.error, USAGE);
  const { values, positionals } = parsed.value;
  if (values.help) return (io.stdout(`${USAGE}\n`), EXIT.ok);
  if (positionals.length !== 1) return usageError(io, 'expected exactly one pipeline file', USAGE);
  const format = stringValue(values.format) ?? 'text';
  if (!['text', 'mermaid', 'dot'].includes(format)) return usageError(io, `unknown format '${format}' (use text, mermaid or dot)`, USAGE);
  const loaded = await loadPipeline({
    file: positionals[0]!,
    cwd: io.cwd,
    overlays: stringList(values.experiment),
    sets: stringList(values.set),
    registry: builtinRegistry(),
    env: io.env,
  });
  if (!loaded.ok) return printDiagnostics(io, loaded.error);
  const steps = loaded.value.steps;
  io.stdout(format === 'mermaid' ? mermaid(steps) : format === 'dot' ? dot(loaded.value.name, steps) : text(steps));
  // Text only: mermaid and dot stay pure graph sources; a step without instances has no node there.
  if (format === 'text') for (const empty of loaded.value.emptySteps ?? []) io.stdout(`# ${describeEmptyStep(empty)}\n`);
  return EXIT.ok;
}

function nodeId(id: string): string {
  return `n_${id.replace(/[^A-Za-z0-9_]/g, (c) => `_${c.charCodeAt(0).toString(16)}`)}`;
}

function mermaid(steps: readonly StepInstance[]): string {
  const lines = ['flowchart TD'];
  for (const s of steps) lines.push(`  ${nodeId(s.id)}["${s.id.replace(/"/g, '#quot;')}"]`);
  for (const s of steps) for (const n of s.needs) lines.push(`  ${nodeId(n)} --> ${nodeId(s.id)}`);
  return `${lines.join('\n')}\n`;
}

function dot(name: string, steps: readonly StepInstance[]): string {
  const q = (t: string): string => `"${t.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = [`digraph ${q(name)} {`, '  rankdir=TB;', '  node [shape=box];'];
  for (const s of steps) lines.push(`  ${q(s.id)};`);
  for (const s of steps) for (const n of s.needs) lines.push(`  ${q(n)} -> ${q(s.id)};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Steps in run order, each with what it needs. */
function text(steps: readonly StepInstance[]): string {
  const byId = new Map(steps.map((s) => [s.id, s]));
  return topologicalOrder(steps)
    .map((id) => {
      const s = byId.get(id)!;
      return s.needs.length > 0 ? `${id}  ← ${s.needs.join(', ')}\n` : `${id}\n`;
    })
    .join('');
}
