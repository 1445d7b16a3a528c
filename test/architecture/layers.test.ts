/**
 * The layers of src/, lowest first: base → artifacts, schemas → runtime → ml, tracking → steps →
 * cli. A module imports its own folder or a lower layer (types included), never a higher one or a
 * sibling of its own layer; and no cycle of imports exists at run time.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../rig/project.js';
import { type ImportEdge, importEdges, sourceFiles } from './imports.js';

const SRC = path.join(REPO, 'src');
const LAYER: Readonly<Record<string, number>> = {
  base: 0,
  artifacts: 1,
  schemas: 1,
  runtime: 2,
  ml: 3,
  tracking: 3,
  steps: 4,
  cli: 5,
};
const area = (file: string): string => path.relative(SRC, file).split(path.sep)[0]!;
const name = (file: string): string => path.relative(SRC, file);

describe('layers of src/', () => {
  const edges = sourceFiles(SRC).flatMap(importEdges);

  it('every top-level folder has a layer', () => {
    expect([...new Set(sourceFiles(SRC).map(area))].filter((a) => !(a in LAYER))).toEqual([]);
  });

  it('has no import upward or sideways between layers', () => {
    const wrong = edges.filter((e) => area(e.from) !== area(e.to) && LAYER[area(e.to)]! >= LAYER[area(e.from)]!);
    expect(wrong.map((e) => `${name(e.from)} → ${name(e.to)}${e.runtime ? '' : ' (type)'}`)).toEqual([]);
  });

  it('has no import cycle at run time', () => {
    expect(runtimeCycles(edges.filter((e) => e.runtime)).map((c) => c.map(name).join(' → '))).toEqual([]);
  });
});

/** One cycle per strongly connected component of more than one module (Tarjan). */
function runtimeCycles(edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    for (const to of next.get(node) ?? []) {
      if (!index.has(to)) visit(to), low.set(node, Math.min(low.get(node)!, low.get(to)!));
      else if (stack.includes(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    for (let top = stack.pop()!; ; top = stack.pop()!) if ((component.push(top), top === node)) break;
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const node of next.keys()) if (!index.has(node)) visit(node);
  return cycles;
}
